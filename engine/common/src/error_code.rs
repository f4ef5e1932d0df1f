//! MySQL error codes and SQLSTATEs, the one vocabulary every engine error is mapped to.

/// A MySQL server error: the number clients switch on and its SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: u16,
    pub sql_state: &'static str,
}

impl ErrorCode {
    const fn new(code: u16, sql_state: &'static str) -> Self {
        Self { code, sql_state }
    }

    /// A code without a named constant here.
    pub const fn new_code(code: u16, sql_state: &'static str) -> Self {
        Self::new(code, sql_state)
    }

    pub const DATABASE_CREATE_EXISTS: Self = Self::new(1007, "HY000");
    pub const DATABASE_DROP_EXISTS: Self = Self::new(1008, "HY000");
    pub const CON_COUNT: Self = Self::new(1040, "08004");
    pub const ACCESS_DENIED: Self = Self::new(1045, "28000");
    pub const NO_DATABASE_SELECTED: Self = Self::new(1046, "3D000");
    pub const UNKNOWN_COMMAND: Self = Self::new(1047, "08S01");
    pub const BAD_NULL: Self = Self::new(1048, "23000");
    pub const BAD_DATABASE: Self = Self::new(1049, "42000");
    pub const TABLE_EXISTS: Self = Self::new(1050, "42S01");
    pub const BAD_TABLE: Self = Self::new(1051, "42S02");
    pub const BAD_FIELD: Self = Self::new(1054, "42S22");
    pub const DUPLICATE_FIELD_NAME: Self = Self::new(1060, "42S21");
    pub const PARSE: Self = Self::new(1064, "42000");
    pub const EMPTY_QUERY: Self = Self::new(1065, "42000");
    pub const UNKNOWN_PROCESS: Self = Self::new(1094, "HY000");
    pub const NO_SUCH_TABLE: Self = Self::new(1146, "42S02");
    pub const NET_PACKET_TOO_LARGE: Self = Self::new(1153, "08S01");
    pub const UNKNOWN_SYSTEM_VARIABLE: Self = Self::new(1193, "HY000");
    pub const WRONG_VALUE_COUNT_ON_ROW: Self = Self::new(1136, "21S01");
    pub const WRONG_VALUE_FOR_VARIABLE: Self = Self::new(1231, "42000");
    pub const NOT_SUPPORTED: Self = Self::new(1235, "42000");
    pub const QUERY_INTERRUPTED: Self = Self::new(1317, "70100");
    pub const CANNOT_USER: Self = Self::new(1396, "HY000");
    pub const TRUNCATED_WRONG_VALUE: Self = Self::new(1292, "22007");
    pub const DATA_TOO_LONG: Self = Self::new(1406, "22001");
    pub const DIVISION_BY_ZERO: Self = Self::new(1365, "22012");
    pub const WARN_DATA_OUT_OF_RANGE: Self = Self::new(1264, "22003");
    pub const TRUNCATED_WRONG_VALUE_FOR_FIELD: Self = Self::new(1366, "HY000");
    pub const DUPLICATE_KEY: Self = Self::new(1062, "23000");
    pub const LABEL_ALREADY_EXISTS: Self = Self::new(5064, "42000");
    pub const UNKNOWN_PARTITION: Self = Self::new(1735, "HY000");
    pub const WRONG_OBJECT: Self = Self::new(1347, "HY000");
    /// StarRocks' catch-all for analysis errors, 1064 with SQLSTATE HY000.
    pub const ANALYSIS: Self = Self::new(1064, "HY000");
    pub const INTERNAL: Self = Self::new(1105, "HY000");
}
