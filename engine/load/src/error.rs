//! Why a load failed, in the words StarRocks' load responses use.

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A header or property has a value the load cannot use.
    #[error("{0}")]
    InvalidParameter(String),
    #[error("Failed to decompress the body as {format}: {reason}")]
    Decompress { format: &'static str, reason: String },
    /// The body can not be read as the format at all (not a single row's fault).
    #[error("{0}")]
    MalformedBody(String),
    #[error("The size of this load exceeds the limit of {limit_bytes} bytes")]
    BodyTooLarge { limit_bytes: u64 },
    /// A `columns` expression or the `where` condition is not valid SQL for the table.
    #[error("{0}")]
    Expression(String),
    #[error("{0}")]
    Schema(String),
    #[error(
        "Too many filtered rows: {filtered} of {total} rows were filtered, more than max_filter_ratio {max_filter_ratio} allows"
    )]
    TooManyFilteredRows { filtered: u64, total: u64, max_filter_ratio: f64 },
    #[error("Access denied for user '{user}'")]
    AccessDenied { user: String },
    #[error("{0}")]
    NotFound(String),
    #[error("Label [{label}] has already been used.")]
    LabelAlreadyExists { label: String, existing_status: String },
    /// Committed and durable, but not yet visible.
    #[error("{0}")]
    PublishTimeout(String),
    #[error("load timed out after {seconds} seconds")]
    Timeout { seconds: u64 },
    #[error("{0}")]
    Internal(String),
}
