# Reference sky positions for components/tests/physics_sky.rs, computed with astropy.
import random, warnings
import numpy as np
import astropy
from astropy.time import Time
from astropy.coordinates import EarthLocation, AltAz, SkyCoord, ICRS, Galactic
import astropy.units as u
from astropy.utils import iers
iers.conf.auto_download = False
warnings.simplefilter("ignore")
random.seed(20261205)
sites = [(30.428, -84.285, 20.0), (51.4769, 0.0, 45.0), (-24.627, -70.404, 2635.0), (69.65, 18.96, 10.0), (-45.0, 170.5, 300.0)]
rows = []
for i in range(40):
    lat, lon, alt = sites[i % len(sites)]
    unix = random.randint(1_104_537_600, 1_640_995_200)  # 2005-01-01 .. 2022-01-01
    frac_ns = random.randint(0, 999_999_999)
    utc_ns = unix * 1_000_000_000 + frac_ns
    zen = random.uniform(0.0, 70.0)
    phi = random.uniform(-180.0, 180.0)  # from east towards north
    t = Time(utc_ns / 1e9, format="unix", scale="utc")
    loc = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, alt * u.m)
    frame = AltAz(obstime=t, location=loc, pressure=0 * u.hPa)
    c = SkyCoord(az=((90.0 - phi) % 360.0) * u.deg, alt=(90.0 - zen) * u.deg, frame=frame)
    icrs = c.transform_to(ICRS())
    gal = c.transform_to(Galactic())
    lmst = t.sidereal_time("mean", longitude=lon * u.deg).deg
    rows.append((utc_ns, lat, lon, alt, zen, phi, lmst, icrs.ra.deg, icrs.dec.deg, gal.l.deg, gal.b.deg))
print(f"# Computed offline with astropy {astropy.__version__} (scripts: see components/tests/data/README.md).")
print("# AltAz without refraction (pressure 0), bundled IERS-B tables, ICRS and Galactic frames;")
print("# zenith/azimuth in the layout's convention (azimuth from east towards north). Angles in degrees.")
print("utc_ns,latitude_deg,longitude_deg,altitude_m,zenith_deg,azimuth_deg,lmst_deg,ra_deg,dec_deg,l_deg,b_deg")
for r in rows:
    print(f"{r[0]},{r[1]},{r[2]},{r[3]},{r[4]:.9f},{r[5]:.9f},{r[6]:.9f},{r[7]:.9f},{r[8]:.9f},{r[9]:.9f},{r[10]:.9f}")
