//! PNG rendering of the SVG plots (feature `png`), with the system's fonts.

use super::PlotError;

/// Renders an SVG document (any plot of this module) to PNG bytes at `scale` times its
/// size, text in the system's sans-serif font.
///
/// # Errors
///
/// [`PlotError::Draw`] if the SVG does not parse or the image cannot be encoded.
///
/// # Examples
///
/// ```
/// use components::plots::{SkyDirection, sky_svg, svg_to_png};
/// let svg = sky_svg("showers", &[SkyDirection { zenith_deg: 30.0, azimuth_deg: 90.0, unphysical: false }])?;
/// let png = svg_to_png(&svg, 1.0)?;
/// assert_eq!(&png[1..4], b"PNG");
/// # Ok::<(), components::plots::PlotError>(())
/// ```
pub fn svg_to_png(svg: &str, scale: f32) -> Result<Vec<u8>, PlotError> {
    let mut options = resvg::usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_system_fonts();
    // The plots ask for "sans-serif"; map it to a family this system has.
    let families: Vec<String> = fonts
        .faces()
        .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
        .collect();
    if let Some(family) = [
        "DejaVu Sans",
        "Liberation Sans",
        "Noto Sans",
        "Arial",
        "Helvetica",
    ]
    .iter()
    .find(|f| families.iter().any(|have| have == *f))
    {
        fonts.set_sans_serif_family(*family);
    }
    let tree =
        resvg::usvg::Tree::from_str(svg, &options).map_err(|e| PlotError::Draw(e.to_string()))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(scale)
        .ok_or_else(|| PlotError::Draw(format!("bad scale {scale}")))?;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| PlotError::Draw("empty image".into()))?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| PlotError::Draw(e.to_string()))
}
