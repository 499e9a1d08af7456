//! Errors of the SQLite store.

use thiserror::Error;

/// Why a store operation failed.
///
/// # Examples
///
/// ```
/// use components::store::StoreError;
///
/// let e = StoreError::IdOutOfRange(u64::MAX);
/// assert!(e.to_string().contains("18446744073709551615"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused an operation (open, schema, write, query).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file could not be opened as a store (it is not a database, or SQLite cannot
    /// read it); the error names the file.
    #[error("{path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// An id does not fit SQLite's signed 64-bit integers.
    #[error("id {0} does not fit a signed 64-bit integer")]
    IdOutOfRange(u64),
    /// The database was written by a newer schema than this code knows.
    #[error("{path}: database schema version {found} is newer than this program's {supported}")]
    SchemaTooNew {
        /// The file.
        path: String,
        /// Version found in the database.
        found: i64,
        /// Newest version this code supports.
        supported: i64,
    },
    /// The file is an SQLite database of another kind (another program's, or an
    /// archive written before the schema was shared).
    #[error("{path} is not a pulse store: found {found}")]
    Foreign {
        /// The file.
        path: String,
        /// What was found instead (application id, tables).
        found: String,
    },
    /// A stored row cannot be turned back into a value (a corrupt or foreign database).
    #[error("stored {what} {id} is not usable: {reason}")]
    BadRow {
        /// What was read (`pulse`, `fit`, …).
        what: &'static str,
        /// Its id.
        id: i64,
        /// What is wrong.
        reason: String,
    },
    /// Writing an export failed.
    #[error("export: {0}")]
    Io(#[from] std::io::Error),
}
