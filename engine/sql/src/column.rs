//! Column definitions and column types of CREATE TABLE and ALTER TABLE ADD COLUMN.

use cairn_common::types::MAX_VARCHAR_LENGTH;
use cairn_common::{ColumnDefinition, ColumnType, DefaultValue};
use datafusion::sql::sqlparser::tokenizer::{Location, Token};

use crate::error::ParseError;
use crate::parser::{StatementParser, quoted_text};

/// Longest CHAR StarRocks accepts.
const MAX_CHAR_LENGTH: u64 = 255;

/// The aggregate functions StarRocks allows after the type in AGGREGATE KEY tables.
const AGGREGATE_FUNCTIONS: &[&str] = &[
    "SUM",
    "MIN",
    "MAX",
    "REPLACE",
    "REPLACE_IF_NOT_NULL",
    "HLL_UNION",
    "BITMAP_UNION",
    "PERCENTILE_UNION",
];

/// StarRocks types Cairn does not store yet, named so the error says "not supported" rather
/// than "unknown".
const UNSUPPORTED_TYPES: &[&str] = &[
    "ARRAY",
    "MAP",
    "STRUCT",
    "HLL",
    "BITMAP",
    "PERCENTILE",
    "BINARY",
    "VARBINARY",
    "TIME",
    "TIMESTAMP",
];

/// A column as written, with what the table-level checks need beyond the definition.
pub(crate) struct ParsedColumn {
    pub(crate) definition: ColumnDefinition,
    /// Where the column's name starts, for errors about the column.
    pub(crate) location: Location,
    /// Whether `NULL` was written explicitly (a PRIMARY KEY column may not be).
    pub(crate) explicit_null: bool,
    /// `SUM`, `REPLACE`... with its location: only valid in AGGREGATE KEY tables.
    pub(crate) aggregate: Option<(String, Location)>,
}

impl StatementParser<'_> {
    /// `name type [KEY] [agg] [NULL | NOT NULL] [DEFAULT v] [COMMENT 'c']`, the options in any
    /// order, each at most once.
    pub(crate) fn parse_column_definition(&mut self) -> Result<ParsedColumn, ParseError> {
        let (name, location) = self.parse_located_identifier("a column name")?;
        let column_type = self.parse_column_type()?;
        let mut column = ParsedColumn {
            definition: ColumnDefinition {
                name,
                column_type,
                // StarRocks columns are nullable unless declared NOT NULL.
                nullable: true,
                default: None,
                comment: String::new(),
                is_key: false,
                unique_id: 0,
            },
            location,
            explicit_null: false,
            aggregate: None,
        };
        let mut seen_nullability = false;
        loop {
            let option_location = self.location();
            if self.parse_word("KEY") {
                column.definition.is_key = true;
            } else if let Some(function) = self.parse_one_of_words(AGGREGATE_FUNCTIONS) {
                if column.aggregate.is_some() {
                    return Err(self.syntax_error_at(option_location, "Duplicate aggregate type"));
                }
                column.aggregate = Some((function.to_string(), option_location));
            } else if self.peek_word_is("NULL") || self.peek_word_is("NOT") {
                if seen_nullability {
                    return Err(self.syntax_error_here("Duplicate NULL or NOT NULL"));
                }
                seen_nullability = true;
                if self.parse_word("NULL") {
                    column.definition.nullable = true;
                    column.explicit_null = true;
                } else {
                    self.expect_words(&["NOT", "NULL"])?;
                    column.definition.nullable = false;
                }
            } else if self.parse_word("DEFAULT") {
                if column.definition.default.is_some() {
                    return Err(self.syntax_error_at(option_location, "Duplicate DEFAULT"));
                }
                column.definition.default = Some(self.parse_default_value()?);
            } else if self.parse_word("COMMENT") {
                column.definition.comment = self.parse_string("a comment string")?;
            } else if self.peek_word_is("AUTO_INCREMENT") {
                return Err(self.unsupported(option_location, "AUTO_INCREMENT"));
            } else if self.peek_word_is("AS") {
                return Err(self.unsupported(option_location, "Generated columns (AS expression)"));
            } else {
                break;
            }
        }
        if column.definition.default == Some(DefaultValue::Null) && !column.definition.nullable {
            return Err(self.error_at(
                location,
                format!(
                    "Invalid default value for '{}': a NOT NULL column cannot default to NULL",
                    column.definition.name
                ),
            ));
        }
        if column.definition.default == Some(DefaultValue::CurrentTimestamp)
            && column.definition.column_type != ColumnType::DateTime
        {
            return Err(self.error_at(
                location,
                format!(
                    "Invalid default value for '{}': CURRENT_TIMESTAMP is only allowed for DATETIME columns",
                    column.definition.name
                ),
            ));
        }
        // A word here is a misspelt option, not the start of the next column.
        if let Some(word) = self.peek_word()
            && !["FIRST", "AFTER", "TO", "FROM", "PROPERTIES"]
                .iter()
                .any(|allowed| word.eq_ignore_ascii_case(allowed))
        {
            return Err(
                self.expected("a column option (NOT NULL, NULL, DEFAULT, COMMENT), ',' or ')'")
            );
        }
        Ok(column)
    }

    /// `DEFAULT` values StarRocks accepts: a literal, NULL or CURRENT_TIMESTAMP.
    fn parse_default_value(&mut self) -> Result<DefaultValue, ParseError> {
        if self.parse_word("NULL") {
            return Ok(DefaultValue::Null);
        }
        if self.parse_word("CURRENT_TIMESTAMP") || self.parse_word("NOW") {
            // `CURRENT_TIMESTAMP()` and `NOW()` are the same thing.
            if self.consume(&Token::LParen) {
                self.expect_token(&Token::RParen)?;
            }
            return Ok(DefaultValue::CurrentTimestamp);
        }
        if let Some(word) = self.parse_one_of_words(&["TRUE", "FALSE"]) {
            return Ok(DefaultValue::Literal(word.to_ascii_lowercase()));
        }
        let negative = self.consume(&Token::Minus);
        match &self.peek().token {
            Token::Number(text, _) => {
                let text = if negative {
                    format!("-{text}")
                } else {
                    text.clone()
                };
                self.parser.advance_token();
                Ok(DefaultValue::Literal(text))
            }
            token if !negative && quoted_text(token).is_some() => {
                let text = quoted_text(token).unwrap_or_default().to_string();
                self.parser.advance_token();
                Ok(DefaultValue::Literal(text))
            }
            Token::LParen if !negative => {
                Err(self.unsupported(self.location(), "DEFAULT with an expression"))
            }
            _ => Err(self.expected("a default value (a literal, NULL or CURRENT_TIMESTAMP)")),
        }
    }

    /// A StarRocks column type such as `INT`, `int(11)`, `DECIMAL(10, 2)`, `VARCHAR(255)`.
    pub(crate) fn parse_column_type(&mut self) -> Result<ColumnType, ParseError> {
        let type_location = self.location();
        let Some(word) = self.peek_word().map(str::to_ascii_uppercase) else {
            return Err(self.expected("a column type"));
        };
        self.parser.advance_token();
        let column_type = match word.as_str() {
            "BOOLEAN" | "BOOL" => ColumnType::Boolean,
            "TINYINT" | "SMALLINT" | "INT" | "INTEGER" | "BIGINT" | "LARGEINT" => {
                // `int(11)`: a MySQL display width, meaningless for storage.
                if self.peek_token_is(&Token::LParen) {
                    self.parse_type_arguments(&word, 1)?;
                }
                if self.peek_word_is("UNSIGNED") {
                    return Err(self.unsupported(self.location(), "UNSIGNED integer types"));
                }
                let _ = self.parse_word("SIGNED");
                match word.as_str() {
                    "TINYINT" => ColumnType::TinyInt,
                    "SMALLINT" => ColumnType::SmallInt,
                    "INT" | "INTEGER" => ColumnType::Int,
                    "BIGINT" => ColumnType::BigInt,
                    _ => ColumnType::LargeInt,
                }
            }
            "FLOAT" | "DOUBLE" => {
                // MySQL's `DOUBLE(10, 2)` display hints change nothing in StarRocks.
                if self.peek_token_is(&Token::LParen) {
                    self.parse_type_arguments(&word, 2)?;
                }
                if word == "FLOAT" {
                    ColumnType::Float
                } else {
                    ColumnType::Double
                }
            }
            "DECIMAL" | "DECIMALV2" | "DECIMALV3" | "NUMERIC" | "DECIMAL32" | "DECIMAL64"
            | "DECIMAL128" => self.parse_decimal_arguments(&word, type_location)?,
            "DATE" | "DATETIME" => {
                if self.peek_token_is(&Token::LParen) {
                    return Err(self.syntax_error_here(&format!("{word} takes no precision")));
                }
                if word == "DATE" {
                    ColumnType::Date
                } else {
                    ColumnType::DateTime
                }
            }
            "CHAR" | "CHARACTER" => {
                let length = self.parse_optional_length(&word, 1)?;
                if !(1..=MAX_CHAR_LENGTH).contains(&length) {
                    return Err(self.error_at(
                        type_location,
                        format!("The length of CHAR must be between 1 and {MAX_CHAR_LENGTH}, found {length}"),
                    ));
                }
                self.skip_character_set_and_collation()?;
                ColumnType::Char {
                    length: u32::try_from(length).unwrap_or(u32::MAX),
                }
            }
            "VARCHAR" => {
                let length = self.parse_optional_length(&word, 1)?;
                if !(1..=u64::from(MAX_VARCHAR_LENGTH)).contains(&length) {
                    return Err(self.error_at(
                        type_location,
                        format!(
                            "The length of VARCHAR must be between 1 and {MAX_VARCHAR_LENGTH}, found {length}"
                        ),
                    ));
                }
                self.skip_character_set_and_collation()?;
                ColumnType::Varchar {
                    length: u32::try_from(length).unwrap_or(u32::MAX),
                }
            }
            "STRING" | "TEXT" => {
                self.skip_character_set_and_collation()?;
                ColumnType::String
            }
            "JSON" => ColumnType::Json,
            other if UNSUPPORTED_TYPES.contains(&other) => {
                return Err(self.unsupported(type_location, &format!("Column type {other}")));
            }
            other => {
                return Err(
                    self.syntax_error_at(type_location, &format!("Unknown column type '{other}'"))
                );
            }
        };
        Ok(column_type)
    }

    /// `(n)` or nothing (then `default`), for CHAR and VARCHAR.
    fn parse_optional_length(&mut self, type_name: &str, default: u64) -> Result<u64, ParseError> {
        if !self.peek_token_is(&Token::LParen) {
            return Ok(default);
        }
        let arguments = self.parse_type_arguments(type_name, 1)?;
        Ok(arguments.first().copied().unwrap_or(default))
    }

    /// `(a[, b...])` of unsigned integers, at most `max_count` of them.
    fn parse_type_arguments(
        &mut self,
        type_name: &str,
        max_count: usize,
    ) -> Result<Vec<u64>, ParseError> {
        self.expect_token(&Token::LParen)?;
        let mut arguments =
            vec![self.parse_unsigned_integer(&format!("a number in {type_name}(...)"))?];
        while self.consume(&Token::Comma) {
            if arguments.len() == max_count {
                return Err(self.syntax_error_here(&format!(
                    "{type_name} takes at most {max_count} argument{}",
                    if max_count == 1 { "" } else { "s" }
                )));
            }
            arguments.push(self.parse_unsigned_integer(&format!("a number in {type_name}(...)"))?);
        }
        self.expect_token(&Token::RParen)?;
        Ok(arguments)
    }

    /// `DECIMAL[(p[, s])]` and its StarRocks variants, with their precision limits.
    fn parse_decimal_arguments(
        &mut self,
        type_name: &str,
        type_location: Location,
    ) -> Result<ColumnType, ParseError> {
        let (max_precision, default_precision): (u64, u64) = match type_name {
            "DECIMAL32" => (9, 9),
            "DECIMAL64" => (18, 18),
            "DECIMALV2" => (27, 10),
            "DECIMAL128" => (38, 38),
            // DECIMAL, DECIMALV3, NUMERIC: MySQL's and StarRocks' default is DECIMAL(10, 0).
            _ => (38, 10),
        };
        let (precision, scale) = if self.peek_token_is(&Token::LParen) {
            let arguments = self.parse_type_arguments(type_name, 2)?;
            let precision = arguments.first().copied().unwrap_or(default_precision);
            (precision, arguments.get(1).copied().unwrap_or(0))
        } else {
            (default_precision, 0)
        };
        if !(1..=max_precision).contains(&precision) {
            return Err(self.error_at(
                type_location,
                format!("The precision of {type_name} must be between 1 and {max_precision}, found {precision}"),
            ));
        }
        if scale > precision {
            return Err(self.error_at(
                type_location,
                format!(
                    "The scale of {type_name}({precision},{scale}) must not exceed its precision {precision}"
                ),
            ));
        }
        if type_name == "DECIMALV2" && scale > 9 {
            return Err(self.error_at(
                type_location,
                format!("The scale of DECIMALV2 must be between 0 and 9, found {scale}"),
            ));
        }
        // Both values are at most 38 after the checks above.
        Ok(ColumnType::Decimal {
            precision: u8::try_from(precision).unwrap_or(38),
            scale: i8::try_from(scale).unwrap_or(0),
        })
    }

    /// MySQL's `CHARACTER SET x` / `CHARSET x` / `COLLATE x` after a string type: Cairn
    /// strings are always utf8, so these are accepted and dropped.
    fn skip_character_set_and_collation(&mut self) -> Result<(), ParseError> {
        loop {
            if self.parse_words(&["CHARACTER", "SET"])
                || self.parse_word("CHARSET")
                || self.parse_word("COLLATE")
            {
                self.parse_string_or_identifier("a character set or collation name")?;
            } else {
                return Ok(());
            }
        }
    }
}
