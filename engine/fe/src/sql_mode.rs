//! The `sql_mode` session variable, with StarRocks' mode names and bits. A value is a comma-
//! separated list of names, a number (the bits), or a mix; the combination modes `ANSI` and
//! `TRADITIONAL` add the modes they stand for. `SELECT @@sql_mode` shows the names of the set
//! bits in alphabetical order, as StarRocks does.
//!
//! What Cairn does differently under a mode: `PIPES_AS_CONCAT` and `ANSI_QUOTES` change how
//! statements parse ([`SqlMode::parse_options`]), and `SORT_NULLS_LAST` puts NULLs last in
//! ascending order and first in descending order. The other names are accepted because clients
//! send them; Cairn already behaves as their strict readings ask (`ONLY_FULL_GROUP_BY`, strict
//! inserts) or they have no counterpart here.

use cairn_common::ErrorCode;
use cairn_sql::ParseOptions;

use crate::error::FeError;

const REAL_AS_FLOAT: u64 = 1;
const PIPES_AS_CONCAT: u64 = 1 << 1;
const ANSI_QUOTES: u64 = 1 << 2;
const IGNORE_SPACE: u64 = 1 << 3;
const ONLY_FULL_GROUP_BY: u64 = 1 << 5;
const ANSI: u64 = 1 << 18;
const STRICT_TRANS_TABLES: u64 = 1 << 21;
const STRICT_ALL_TABLES: u64 = 1 << 22;
const NO_ZERO_IN_DATE: u64 = 1 << 23;
const NO_ZERO_DATE: u64 = 1 << 24;
const ERROR_FOR_DIVISION_BY_ZERO: u64 = 1 << 26;
const TRADITIONAL: u64 = 1 << 27;
const NO_ENGINE_SUBSTITUTION: u64 = 1 << 30;
const SORT_NULLS_LAST: u64 = 1 << 33;

/// Every mode name, alphabetically (the order `@@sql_mode` shows them in), with its bit.
const MODES: [(&str, u64); 27] = [
    ("ALLOW_THROW_EXCEPTION", 1 << 9),
    ("ANSI", ANSI),
    ("ANSI_QUOTES", ANSI_QUOTES),
    ("ERROR_FOR_DIVISION_BY_ZERO", ERROR_FOR_DIVISION_BY_ZERO),
    ("ERROR_IF_OVERFLOW", 1 << 35),
    ("FORBID_INVALID_DATE", 1 << 8),
    ("HIGH_NOT_PRECEDENCE", 1 << 29),
    ("IGNORE_SPACE", IGNORE_SPACE),
    ("INVALID_DATES", 1 << 25),
    ("MODE_DOUBLE_LITERAL", 1 << 17),
    ("NOT_USED", 1 << 4),
    ("NO_AUTO_VALUE_ON_ZERO", 1 << 19),
    ("NO_BACKSLASH_ESCAPES", 1 << 20),
    ("NO_DIR_IN_CREATE", 1 << 7),
    ("NO_ENGINE_SUBSTITUTION", NO_ENGINE_SUBSTITUTION),
    ("NO_UNSIGNED_SUBTRACTION", 1 << 6),
    ("NO_ZERO_DATE", NO_ZERO_DATE),
    ("NO_ZERO_IN_DATE", NO_ZERO_IN_DATE),
    ("ONLY_FULL_GROUP_BY", ONLY_FULL_GROUP_BY),
    ("PAD_CHAR_TO_FULL_LENGTH", 1 << 31),
    ("PIPES_AS_CONCAT", PIPES_AS_CONCAT),
    ("REAL_AS_FLOAT", REAL_AS_FLOAT),
    ("SORT_NULLS_LAST", SORT_NULLS_LAST),
    ("STRICT_ALL_TABLES", STRICT_ALL_TABLES),
    ("STRICT_TRANS_TABLES", STRICT_TRANS_TABLES),
    ("TIME_TRUNCATE_FRACTIONAL", 1 << 32),
    ("TRADITIONAL", TRADITIONAL),
];

/// The modes a combination mode stands for.
const COMBINATIONS: [(u64, u64); 2] = [
    (ANSI, REAL_AS_FLOAT | PIPES_AS_CONCAT | ANSI_QUOTES | IGNORE_SPACE | ONLY_FULL_GROUP_BY),
    (
        TRADITIONAL,
        STRICT_TRANS_TABLES
            | STRICT_ALL_TABLES
            | NO_ZERO_IN_DATE
            | NO_ZERO_DATE
            | ERROR_FOR_DIVISION_BY_ZERO
            | NO_ENGINE_SUBSTITUTION,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlMode(u64);

impl SqlMode {
    /// StarRocks' default for new sessions.
    pub const DEFAULT: SqlMode = SqlMode(ONLY_FULL_GROUP_BY);

    /// A `SET sql_mode = ...` value. An unknown name or bit is MySQL's error 1231.
    pub fn parse(value: &str) -> Result<SqlMode, FeError> {
        let wrong = |shown: &str| {
            FeError::user(
                ErrorCode::WRONG_VALUE_FOR_VARIABLE,
                format!("Variable 'sql_mode' can't be set to the value of '{shown}'"),
            )
        };
        let allowed = MODES.iter().fold(0, |mask, (_, bit)| mask | bit);
        let mut bits = 0;
        for name in value.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            let bit = if name.bytes().all(|byte| byte.is_ascii_digit()) {
                name.parse::<u64>().map_err(|_| wrong(name))?
            } else {
                MODES
                    .iter()
                    .find(|(known, _)| known.eq_ignore_ascii_case(name))
                    .map(|(_, bit)| *bit)
                    .ok_or_else(|| wrong(name))?
            };
            if bit & !allowed != 0 {
                return Err(wrong(name));
            }
            bits |= bit;
        }
        for (combination, expansion) in COMBINATIONS {
            if bits & combination != 0 {
                bits |= expansion;
            }
        }
        Ok(SqlMode(bits))
    }

    /// The mode as `@@sql_mode` shows it.
    pub fn names(self) -> String {
        let names: Vec<&str> = MODES
            .iter()
            .filter(|(_, bit)| self.0 & bit != 0)
            .map(|(name, _)| *name)
            .collect();
        names.join(",")
    }

    pub fn parse_options(self) -> ParseOptions {
        ParseOptions {
            pipes_as_concat: self.0 & PIPES_AS_CONCAT != 0,
            ansi_quotes: self.0 & ANSI_QUOTES != 0,
        }
    }

    pub fn sort_nulls_last(self) -> bool {
        self.0 & SORT_NULLS_LAST != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_combinations_expanded() {
        let mode = SqlMode::parse(" strict_trans_tables, ONLY_FULL_GROUP_BY ,,").expect("valid");
        assert_eq!(mode.names(), "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES");
        let ansi = SqlMode::parse("ANSI").expect("valid");
        assert_eq!(ansi.names(), "ANSI,ANSI_QUOTES,IGNORE_SPACE,ONLY_FULL_GROUP_BY,PIPES_AS_CONCAT,REAL_AS_FLOAT");
        assert_eq!(ansi.parse_options(), ParseOptions { pipes_as_concat: true, ansi_quotes: true });
        assert_eq!(SqlMode::parse("").expect("empty").names(), "");
        assert_eq!(SqlMode::parse("32").expect("bits"), SqlMode::parse("ONLY_FULL_GROUP_BY").expect("name"));
        assert!(SqlMode::parse("SORT_NULLS_LAST").expect("valid").sort_nulls_last());
        assert_eq!(SqlMode::parse("TRADITIONAL").expect("valid").names().split(',').count(), 7);
    }

    #[test]
    fn unknown_modes_are_error_1231() {
        for bad in ["NO_SUCH_MODE", "ONLY_FULL_GROUP_BY,BOGUS", "1099511627776"] {
            let error = SqlMode::parse(bad).expect_err(bad).to_packet();
            assert_eq!(error.code, ErrorCode::WRONG_VALUE_FOR_VARIABLE.code, "{bad}");
        }
    }
}
