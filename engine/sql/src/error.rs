//! The error every parse function returns, in the shape MySQL clients show to users.

use std::fmt;

use datafusion::sql::sqlparser::parser::ParserError;
use datafusion::sql::sqlparser::tokenizer::{Location, TokenizerError};

/// Why a statement could not be parsed, and where.
///
/// `message` is a complete sentence without the position; [`fmt::Display`] appends
/// ` at line N, column M` when the position is known, so the FE can send the displayed text as
/// the MySQL error message (error 1064 for syntax errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// 1-based line of the offending token, when known.
    pub line: Option<u64>,
    /// 1-based column (in characters) of the offending token, when known.
    pub column: Option<u64>,
}

impl ParseError {
    /// An error with no position, e.g. for an empty query.
    pub fn new(message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// An error at a position of the input. Line 0 is sqlparser's "unknown position".
    pub(crate) fn at(message: impl Into<String>, location: Location) -> ParseError {
        let known = location.line > 0;
        ParseError {
            message: message.into(),
            line: known.then_some(location.line),
            column: known.then_some(location.column),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(formatter, " at line {line}, column {column}"),
            (Some(line), None) => write!(formatter, " at line {line}"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ParseError {}

/// The text of a sqlparser error split into its message and the position sqlparser appends as
/// ` at Line: L, Column: C` (absent when the error is at the end of the input).
pub(crate) fn split_sqlparser_error(error: &ParserError) -> (String, Option<Location>) {
    let text = match error {
        ParserError::TokenizerError(text) | ParserError::ParserError(text) => text.clone(),
        ParserError::RecursionLimitExceeded => {
            return ("The statement is nested too deeply".to_string(), None);
        }
    };
    split_location_suffix(&text)
}

pub(crate) fn split_tokenizer_error(error: &TokenizerError) -> (String, Option<Location>) {
    let location = (error.location.line > 0).then_some(error.location);
    (error.message.clone(), location)
}

fn split_location_suffix(text: &str) -> (String, Option<Location>) {
    const MARKER: &str = " at Line: ";
    let Some(marker_start) = text.rfind(MARKER) else {
        return (text.to_string(), None);
    };
    let suffix = &text[marker_start + MARKER.len()..];
    let Some((line_text, column_text)) = suffix.split_once(", Column: ") else {
        return (text.to_string(), None);
    };
    match (
        line_text.trim().parse::<u64>(),
        column_text.trim().parse::<u64>(),
    ) {
        (Ok(line), Ok(column)) => (
            text[..marker_start].to_string(),
            Some(Location { line, column }),
        ),
        _ => (text.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_appends_the_position() {
        let error = ParseError::at("Unknown thing", Location { line: 2, column: 5 });
        assert_eq!(error.to_string(), "Unknown thing at line 2, column 5");
        assert_eq!(
            ParseError::new("Query was empty").to_string(),
            "Query was empty"
        );
    }

    #[test]
    fn sqlparser_location_suffix_is_split_off() {
        let error = ParserError::ParserError(
            "Expected: an expression, found: FROM at Line: 1, Column: 8".into(),
        );
        let (message, location) = split_sqlparser_error(&error);
        assert_eq!(message, "Expected: an expression, found: FROM");
        assert_eq!(location, Some(Location { line: 1, column: 8 }));

        let error = ParserError::ParserError("Expected: ), found: EOF".into());
        assert_eq!(
            split_sqlparser_error(&error),
            ("Expected: ), found: EOF".to_string(), None)
        );
    }
}
