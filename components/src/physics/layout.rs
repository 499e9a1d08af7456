//! Detector positions and the speed of light.
//!
//! Coordinates are metres in a local frame: `x` east, `y` north, `z` up. A detector's
//! id is its index in the layout.

use serde::{Deserialize, Serialize};

use super::error::ConfigError;

/// Speed of light in vacuum, m/ns.
///
/// # Examples
///
/// ```rust
/// use components::physics::layout::SPEED_OF_LIGHT;
///
/// // Light crosses 30 m in about 100 ns.
/// assert!((30.0 / SPEED_OF_LIGHT - 100.07).abs() < 0.01);
/// ```
pub const SPEED_OF_LIGHT: f64 = 0.299_792_458;

/// Positions of the detectors of a station, indexed by detector id.
///
/// # Examples
///
/// ```rust
/// use components::physics::layout::DetectorLayout;
///
/// let layout = DetectorLayout::grid(2, 2, 10.0)?;
/// assert_eq!(layout.len(), 4);
/// assert_eq!(layout.distance(0, 3), Some(200f64.sqrt()));
/// # Ok::<(), components::physics::error::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorLayout {
    positions: Vec<[f64; 3]>,
}

impl DetectorLayout {
    /// A layout from explicit positions (m).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Layout`] when empty or when a coordinate is not finite.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let layout = DetectorLayout::new(vec![[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])?;
    /// assert_eq!(layout.distance(0, 1), Some(5.0));
    /// assert!(DetectorLayout::new(vec![]).is_err());
    /// assert!(DetectorLayout::new(vec![[f64::NAN, 0.0, 0.0]]).is_err());
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn new(positions: Vec<[f64; 3]>) -> Result<Self, ConfigError> {
        if positions.is_empty() {
            return Err(ConfigError::Layout("no detectors"));
        }
        if positions.iter().flatten().any(|c| !c.is_finite()) {
            return Err(ConfigError::Layout("a coordinate is not finite"));
        }
        Ok(DetectorLayout { positions })
    }

    /// `nx × ny` detectors on a square grid of the given spacing (m) at `z = 0`, id
    /// running along `x` first.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Layout`] when a count is 0 or the spacing is not finite and positive.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let layout = DetectorLayout::grid(3, 2, 5.0)?;
    /// assert_eq!(layout.len(), 6);
    /// // Id runs along x first: detector 3 starts the second row.
    /// assert_eq!(layout.position(3), Some([0.0, 5.0, 0.0]));
    /// assert!(DetectorLayout::grid(2, 2, 0.0).is_err());
    /// assert!(DetectorLayout::grid(0, 2, 1.0).is_err());
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn grid(nx: usize, ny: usize, spacing: f64) -> Result<Self, ConfigError> {
        if !(spacing.is_finite() && spacing > 0.0) {
            return Err(ConfigError::Layout("grid spacing must be positive"));
        }
        let positions = (0..ny)
            .flat_map(|j| (0..nx).map(move |i| [i as f64 * spacing, j as f64 * spacing, 0.0]))
            .collect();
        Self::new(positions)
    }

    /// Number of detectors.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    ///
    /// assert_eq!(DetectorLayout::grid(4, 1, 1.0)?.len(), 4);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Always `false`: a layout has at least one detector.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    ///
    /// assert!(!DetectorLayout::new(vec![[0.0; 3]])?.is_empty());
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// All positions, indexed by detector id.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let layout = DetectorLayout::grid(2, 1, 2.5)?;
    /// assert_eq!(layout.positions(), &[[0.0, 0.0, 0.0], [2.5, 0.0, 0.0]]);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn positions(&self) -> &[[f64; 3]] {
        &self.positions
    }

    /// Position of one detector.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let layout = DetectorLayout::grid(2, 2, 10.0)?;
    /// assert_eq!(layout.position(1), Some([10.0, 0.0, 0.0]));
    /// assert_eq!(layout.position(4), None);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn position(&self, id: usize) -> Option<[f64; 3]> {
        self.positions.get(id).copied()
    }

    /// Distance between two detectors, m.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let layout = DetectorLayout::grid(2, 1, 7.0)?;
    /// assert_eq!(layout.distance(0, 1), Some(7.0));
    /// assert_eq!(layout.distance(0, 9), None);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn distance(&self, a: usize, b: usize) -> Option<f64> {
        let (p, q) = (self.position(a)?, self.position(b)?);
        Some(((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt())
    }

    /// Largest distance between two detectors, m.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let layout = DetectorLayout::grid(2, 2, 3.0)?;
    /// assert!((layout.extent() - 18f64.sqrt()).abs() < 1e-12);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn extent(&self) -> f64 {
        let n = self.len();
        (0..n)
            .flat_map(|a| (0..n).map(move |b| (a, b)))
            .filter_map(|(a, b)| self.distance(a, b))
            .fold(0.0, f64::max)
    }
}
