//! Server-side prepared statements, emulated: PREPARE finds the `?` placeholders, EXECUTE
//! decodes the binary parameters and substitutes them as SQL literals into the statement text,
//! which then runs as an ordinary query.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::column::ColumnType;
use crate::error::ProtocolError;
use crate::packet::PayloadReader;
use crate::session::ErrorPacket;

/// MySQL's default `max_prepared_stmt_count`, so a client leaking statements cannot grow a
/// connection without bound.
const MAX_STATEMENTS_PER_CONNECTION: usize = 16_382;

pub(crate) struct PreparedStatement {
    sql: String,
    /// Byte offsets of the `?` placeholders in `sql`.
    placeholders: Vec<usize>,
    /// The parameter types of the last execute that sent them; clients send types only when
    /// they change (the new-params-bound flag).
    parameter_types: Option<Vec<ParameterType>>,
    /// Values sent with COM_STMT_SEND_LONG_DATA since the last execute or reset.
    long_data: Vec<Option<Vec<u8>>>,
    long_data_too_large: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParameterType {
    pub(crate) code: u8,
    pub(crate) unsigned: bool,
}

/// A decoded parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParameterValue {
    Null,
    Int(i64),
    UInt(u64),
    Float(f32),
    Double(f64),
    /// DECIMAL/NEWDECIMAL text as the client sent it.
    Decimal(String),
    Bytes(Vec<u8>),
    Date {
        year: u16,
        month: u8,
        day: u8,
    },
    DateTime {
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        micros: u32,
    },
    Time {
        negative: bool,
        days: u32,
        hour: u8,
        minute: u8,
        second: u8,
        micros: u32,
    },
}

#[derive(Default)]
pub(crate) struct PreparedStatements {
    statements: HashMap<u32, PreparedStatement>,
    next_id: u32,
}

impl PreparedStatements {
    pub(crate) fn prepare(&mut self, sql: String) -> Result<(u32, u16), ErrorPacket> {
        if self.statements.len() >= MAX_STATEMENTS_PER_CONNECTION {
            return Err(ErrorPacket::new(
                1461,
                "42000",
                format!(
                    "Can't create more than max_prepared_stmt_count statements (current value: {MAX_STATEMENTS_PER_CONNECTION})"
                ),
            ));
        }
        let placeholders = find_placeholders(&sql);
        let parameter_count = u16::try_from(placeholders.len()).map_err(|_| {
            ErrorPacket::new(
                1390,
                "HY000",
                "Prepared statement contains too many placeholders",
            )
        })?;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let id = self.next_id;
        self.statements.insert(
            id,
            PreparedStatement {
                sql,
                long_data: vec![None; placeholders.len()],
                placeholders,
                parameter_types: None,
                long_data_too_large: false,
            },
        );
        Ok((id, parameter_count))
    }

    pub(crate) fn close(&mut self, id: u32) {
        self.statements.remove(&id);
    }

    pub(crate) fn clear(&mut self) {
        self.statements.clear();
    }

    /// COM_STMT_RESET: forget long data. False for an unknown statement.
    pub(crate) fn reset(&mut self, id: u32) -> bool {
        match self.statements.get_mut(&id) {
            Some(statement) => {
                statement.clear_long_data();
                true
            }
            None => false,
        }
    }

    /// COM_STMT_SEND_LONG_DATA, which has no reply; problems surface at execute.
    pub(crate) fn append_long_data(&mut self, payload: &[u8], max_allowed_packet: usize) {
        let mut reader = PayloadReader::new(payload, "COM_STMT_SEND_LONG_DATA");
        let (Ok(id), Ok(parameter)) = (reader.u32(), reader.u16()) else {
            return;
        };
        let Some(statement) = self.statements.get_mut(&id) else {
            return;
        };
        let Some(slot) = statement.long_data.get_mut(usize::from(parameter)) else {
            return;
        };
        let data = slot.get_or_insert_with(Vec::new);
        if data.len() + reader.remaining() > max_allowed_packet {
            statement.long_data_too_large = true;
            return;
        }
        data.extend_from_slice(reader.rest());
    }

    /// Decodes COM_STMT_EXECUTE (after the command byte) into the SQL text to run.
    pub(crate) fn execute(&mut self, payload: &[u8]) -> Result<String, ExecuteError> {
        let mut reader = PayloadReader::new(payload, "COM_STMT_EXECUTE");
        let id = reader.u32()?;
        let statement = self.statements.get_mut(&id).ok_or_else(|| {
            ExecuteError::Session(ErrorPacket::new(
                1243,
                "HY000",
                format!("Unknown prepared statement handler ({id}) given to mysqld_stmt_execute"),
            ))
        })?;
        let result = statement.bind(&mut reader);
        statement.clear_long_data();
        result
    }
}

pub(crate) enum ExecuteError {
    Protocol(ProtocolError),
    Session(ErrorPacket),
}

impl From<ProtocolError> for ExecuteError {
    fn from(error: ProtocolError) -> ExecuteError {
        ExecuteError::Protocol(error)
    }
}

impl PreparedStatement {
    fn clear_long_data(&mut self) {
        for slot in &mut self.long_data {
            *slot = None;
        }
        self.long_data_too_large = false;
    }

    fn bind(&mut self, reader: &mut PayloadReader<'_>) -> Result<String, ExecuteError> {
        if self.long_data_too_large {
            return Err(ExecuteError::Session(ErrorPacket::new(
                1153,
                "08S01",
                "Got a packet bigger than 'max_allowed_packet' bytes",
            )));
        }
        let _cursor_flags = reader.u8()?;
        let _iteration_count = reader.u32()?;
        let count = self.placeholders.len();
        if count == 0 {
            return Ok(self.sql.clone());
        }
        let null_bitmap = reader.bytes(count.div_ceil(8))?;
        let new_parameters_bound = reader.u8()?;
        if new_parameters_bound == 1 {
            let mut types = Vec::with_capacity(count);
            for _ in 0..count {
                let code = reader.u8()?;
                let flags = reader.u8()?;
                types.push(ParameterType {
                    code,
                    unsigned: flags & 0x80 != 0,
                });
            }
            self.parameter_types = Some(types);
        }
        let types = self
            .parameter_types
            .as_ref()
            .ok_or_else(|| reader.malformed("parameter types were never sent"))?;
        let mut literals = Vec::with_capacity(count);
        for (index, parameter_type) in types.iter().enumerate() {
            let is_null = null_bitmap[index / 8] & (1 << (index % 8)) != 0;
            let value = if let Some(data) = self.long_data[index].take() {
                long_data_value(*parameter_type, data)
            } else if is_null {
                ParameterValue::Null
            } else {
                decode_parameter(reader, *parameter_type)?
            };
            literals.push(to_literal(&value).map_err(ExecuteError::Session)?);
        }
        Ok(substitute(&self.sql, &self.placeholders, &literals))
    }
}

fn long_data_value(parameter_type: ParameterType, data: Vec<u8>) -> ParameterValue {
    match ColumnType::from_code(parameter_type.code) {
        Some(ColumnType::Decimal | ColumnType::NewDecimal) => match String::from_utf8(data) {
            Ok(text) => ParameterValue::Decimal(text),
            Err(error) => ParameterValue::Bytes(error.into_bytes()),
        },
        _ => ParameterValue::Bytes(data),
    }
}

/// Decodes one non-null binary protocol value.
pub(crate) fn decode_parameter(
    reader: &mut PayloadReader<'_>,
    parameter_type: ParameterType,
) -> Result<ParameterValue, ProtocolError> {
    let ParameterType { code, unsigned } = parameter_type;
    let column_type =
        ColumnType::from_code(code).ok_or_else(|| reader.malformed("unknown parameter type"))?;
    Ok(match column_type {
        ColumnType::Null => ParameterValue::Null,
        ColumnType::Tiny => {
            let byte = reader.u8()?;
            if unsigned {
                ParameterValue::UInt(u64::from(byte))
            } else {
                ParameterValue::Int(i64::from(byte as i8))
            }
        }
        ColumnType::Short | ColumnType::Year => {
            let value = reader.u16()?;
            if unsigned {
                ParameterValue::UInt(u64::from(value))
            } else {
                ParameterValue::Int(i64::from(value as i16))
            }
        }
        ColumnType::Long | ColumnType::Int24 => {
            let value = reader.u32()?;
            if unsigned {
                ParameterValue::UInt(u64::from(value))
            } else {
                ParameterValue::Int(i64::from(value as i32))
            }
        }
        ColumnType::LongLong => {
            let value = reader.u64()?;
            if unsigned {
                ParameterValue::UInt(value)
            } else {
                ParameterValue::Int(value as i64)
            }
        }
        ColumnType::Float => ParameterValue::Float(f32::from_le_bytes(reader.array()?)),
        ColumnType::Double => ParameterValue::Double(f64::from_le_bytes(reader.array()?)),
        ColumnType::Decimal | ColumnType::NewDecimal => {
            let bytes = reader.lenenc_bytes()?;
            match std::str::from_utf8(bytes) {
                Ok(text) => ParameterValue::Decimal(text.to_owned()),
                Err(_) => ParameterValue::Bytes(bytes.to_vec()),
            }
        }
        ColumnType::Date | ColumnType::NewDate | ColumnType::DateTime | ColumnType::Timestamp => {
            let length = reader.u8()?;
            let fields = reader.bytes(usize::from(length))?;
            let mut fields = PayloadReader::new(fields, "datetime parameter");
            let (mut year, mut month, mut day) = (0, 0, 0);
            let (mut hour, mut minute, mut second, mut micros) = (0, 0, 0, 0);
            if length >= 4 {
                year = fields.u16()?;
                month = fields.u8()?;
                day = fields.u8()?;
            }
            if length >= 7 {
                hour = fields.u8()?;
                minute = fields.u8()?;
                second = fields.u8()?;
            }
            if length >= 11 {
                micros = fields.u32()?;
            }
            if matches!(column_type, ColumnType::Date | ColumnType::NewDate) {
                ParameterValue::Date { year, month, day }
            } else {
                ParameterValue::DateTime {
                    year,
                    month,
                    day,
                    hour,
                    minute,
                    second,
                    micros,
                }
            }
        }
        ColumnType::Time => {
            let length = reader.u8()?;
            let fields = reader.bytes(usize::from(length))?;
            let mut fields = PayloadReader::new(fields, "time parameter");
            let (mut negative, mut days, mut hour, mut minute, mut second, mut micros) =
                (false, 0, 0, 0, 0, 0);
            if length >= 8 {
                negative = fields.u8()? == 1;
                days = fields.u32()?;
                hour = fields.u8()?;
                minute = fields.u8()?;
                second = fields.u8()?;
            }
            if length >= 12 {
                micros = fields.u32()?;
            }
            ParameterValue::Time {
                negative,
                days,
                hour,
                minute,
                second,
                micros,
            }
        }
        ColumnType::VarChar
        | ColumnType::Bit
        | ColumnType::Json
        | ColumnType::Enum
        | ColumnType::Set
        | ColumnType::TinyBlob
        | ColumnType::MediumBlob
        | ColumnType::LongBlob
        | ColumnType::Blob
        | ColumnType::VarString
        | ColumnType::String
        | ColumnType::Geometry => ParameterValue::Bytes(reader.lenenc_bytes()?.to_vec()),
    })
}

/// The SQL literal for a parameter.
pub(crate) fn to_literal(value: &ParameterValue) -> Result<String, ErrorPacket> {
    let mut literal = String::new();
    match value {
        ParameterValue::Null => literal.push_str("NULL"),
        ParameterValue::Int(value) => {
            let _ = write!(literal, "{value}");
        }
        ParameterValue::UInt(value) => {
            let _ = write!(literal, "{value}");
        }
        ParameterValue::Float(value) => {
            if !value.is_finite() {
                return Err(non_finite_parameter());
            }
            // Debug prints the shortest digits that read back as the same f32, with an
            // exponent when that is shorter.
            let _ = write!(literal, "{value:?}");
        }
        ParameterValue::Double(value) => {
            if !value.is_finite() {
                return Err(non_finite_parameter());
            }
            let _ = write!(literal, "{value:?}");
        }
        ParameterValue::Decimal(text) => {
            if is_numeric_literal(text) {
                literal.push_str(text.trim());
            } else {
                push_string_literal(&mut literal, text);
            }
        }
        ParameterValue::Bytes(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => push_string_literal(&mut literal, text),
            Err(_) => {
                literal.push_str("X'");
                for byte in bytes {
                    let _ = write!(literal, "{byte:02X}");
                }
                literal.push('\'');
            }
        },
        ParameterValue::Date { year, month, day } => {
            let _ = write!(literal, "'{year:04}-{month:02}-{day:02}'");
        }
        ParameterValue::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
        } => {
            let _ = write!(
                literal,
                "'{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"
            );
            if *micros != 0 {
                let _ = write!(literal, ".{micros:06}");
            }
            literal.push('\'');
        }
        ParameterValue::Time {
            negative,
            days,
            hour,
            minute,
            second,
            micros,
        } => {
            let hours = u64::from(*days) * 24 + u64::from(*hour);
            let sign = if *negative { "-" } else { "" };
            let _ = write!(literal, "'{sign}{hours:02}:{minute:02}:{second:02}");
            if *micros != 0 {
                let _ = write!(literal, ".{micros:06}");
            }
            literal.push('\'');
        }
    }
    Ok(literal)
}

fn non_finite_parameter() -> ErrorPacket {
    ErrorPacket::new(
        1210,
        "HY000",
        "Incorrect arguments to mysqld_stmt_execute: NaN or infinite float",
    )
}

/// Digits with an optional sign, point and exponent; anything else is quoted instead, so a
/// crafted "decimal" cannot inject SQL.
fn is_numeric_literal(text: &str) -> bool {
    let text = text.trim();
    let mut digits = 0;
    for (index, character) in text.char_indices() {
        match character {
            '0'..='9' => digits += 1,
            '+' | '-' if index == 0 => {}
            '.' | 'e' | 'E' => {}
            '+' | '-' if text[..index].ends_with(['e', 'E']) => {}
            _ => return false,
        }
    }
    digits > 0
}

/// A single-quoted string literal escaped the way `mysql_real_escape_string` does, which the
/// MySQL dialect of the parser reads back.
pub(crate) fn push_string_literal(literal: &mut String, text: &str) {
    literal.reserve(text.len() + 2);
    literal.push('\'');
    for character in text.chars() {
        match character {
            '\0' => literal.push_str("\\0"),
            '\n' => literal.push_str("\\n"),
            '\r' => literal.push_str("\\r"),
            '\u{1a}' => literal.push_str("\\Z"),
            '\'' => literal.push_str("\\'"),
            '"' => literal.push_str("\\\""),
            '\\' => literal.push_str("\\\\"),
            other => literal.push(other),
        }
    }
    literal.push('\'');
}

/// Byte offsets of the `?` placeholders, skipping quoted strings, quoted identifiers and
/// comments.
pub(crate) fn find_placeholders(sql: &str) -> Vec<usize> {
    let bytes = sql.as_bytes();
    let mut placeholders = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            quote @ (b'\'' | b'"' | b'`') => {
                index += 1;
                while index < bytes.len() {
                    let byte = bytes[index];
                    if byte == b'\\' && quote != b'`' {
                        index += 2;
                    } else if byte == quote {
                        // A doubled quote is an escaped quote inside the string.
                        if bytes.get(index + 1) == Some(&quote) {
                            index += 2;
                        } else {
                            index += 1;
                            break;
                        }
                    } else {
                        index += 1;
                    }
                }
            }
            b'#' => index = end_of_line(bytes, index),
            b'-' if bytes.get(index + 1) == Some(&b'-')
                && bytes
                    .get(index + 2)
                    .is_none_or(|byte| byte.is_ascii_whitespace() || byte.is_ascii_control()) =>
            {
                index = end_of_line(bytes, index);
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                index = match sql[index + 2..].find("*/") {
                    Some(end) => index + 2 + end + 2,
                    None => bytes.len(),
                };
            }
            b'?' => {
                placeholders.push(index);
                index += 1;
            }
            _ => index += 1,
        }
    }
    placeholders
}

fn end_of_line(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|byte| *byte == b'\n')
        .map_or(bytes.len(), |offset| from + offset + 1)
}

/// Replaces each placeholder (a one-byte `?`) with its literal.
pub(crate) fn substitute(sql: &str, placeholders: &[usize], literals: &[String]) -> String {
    let extra: usize = literals.iter().map(String::len).sum();
    let mut result = String::with_capacity(sql.len() + extra);
    let mut copied = 0;
    for (position, literal) in placeholders.iter().zip(literals) {
        result.push_str(&sql[copied..*position]);
        result.push_str(literal);
        copied = position + 1;
    }
    result.push_str(&sql[copied..]);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(sql: &str) -> usize {
        find_placeholders(sql).len()
    }

    #[test]
    fn counts_placeholders_outside_strings_and_comments() {
        assert_eq!(count("select ?"), 1);
        assert_eq!(count("select * from t where a = ? and b in (?, ?)"), 3);
        assert_eq!(count("select '?', \"?\", `?` from t where x = ?"), 1);
        assert_eq!(count("select 'it''s ?', 'a\\'?' , ?"), 1);
        assert_eq!(count("select \"say \"\"?\"\"\" , ?"), 1);
        assert_eq!(count("select ? -- what?\n, ?"), 2);
        assert_eq!(count("select ? # what?\n, ?"), 2);
        assert_eq!(count("select ? /* ? */ , ?"), 2);
        assert_eq!(
            count("select 1--?"),
            1,
            "-- needs a space to start a comment"
        );
        assert_eq!(count("select 'unterminated ?"), 0);
        assert_eq!(count("select /* unterminated ?"), 0);
        assert_eq!(count("select 'é?', ?"), 1);
        assert_eq!(count("select 'x\\"), 0);
    }

    #[test]
    fn escapes_string_literals() {
        let mut literal = String::new();
        push_string_literal(&mut literal, "it's a \"test\"\\ \n\r\0\u{1a} é");
        assert_eq!(literal, "'it\\'s a \\\"test\\\"\\\\ \\n\\r\\0\\Z é'");
    }

    #[test]
    fn literals_of_each_type() {
        let cases = [
            (ParameterValue::Null, "NULL"),
            (ParameterValue::Int(-42), "-42"),
            (ParameterValue::UInt(u64::MAX), "18446744073709551615"),
            (ParameterValue::Float(0.1), "0.1"),
            (ParameterValue::Double(1.5), "1.5"),
            (ParameterValue::Double(1e300), "1e300"),
            (ParameterValue::Decimal("-12.30".into()), "-12.30"),
            (
                ParameterValue::Decimal("1; drop table t".into()),
                "'1; drop table t'",
            ),
            (ParameterValue::Bytes(b"o'k".to_vec()), "'o\\'k'"),
            (ParameterValue::Bytes(vec![0xFF, 0x00]), "X'FF00'"),
            (
                ParameterValue::Date {
                    year: 2024,
                    month: 2,
                    day: 9,
                },
                "'2024-02-09'",
            ),
            (
                ParameterValue::DateTime {
                    year: 2024,
                    month: 2,
                    day: 9,
                    hour: 1,
                    minute: 2,
                    second: 3,
                    micros: 0,
                },
                "'2024-02-09 01:02:03'",
            ),
            (
                ParameterValue::DateTime {
                    year: 2024,
                    month: 2,
                    day: 9,
                    hour: 1,
                    minute: 2,
                    second: 3,
                    micros: 4500,
                },
                "'2024-02-09 01:02:03.004500'",
            ),
            (
                ParameterValue::Time {
                    negative: true,
                    days: 1,
                    hour: 2,
                    minute: 3,
                    second: 4,
                    micros: 0,
                },
                "'-26:03:04'",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(
                to_literal(&value).ok().as_deref(),
                Some(expected),
                "{value:?}"
            );
        }
        assert!(to_literal(&ParameterValue::Double(f64::NAN)).is_err());
    }

    /// Builds a COM_STMT_EXECUTE payload (without the command byte).
    fn execute_payload(
        id: u32,
        null_bitmap: &[u8],
        types: Option<&[(u8, u8)]>,
        values: &[u8],
    ) -> Vec<u8> {
        let mut payload = id.to_le_bytes().to_vec();
        payload.push(0);
        payload.extend_from_slice(&1u32.to_le_bytes());
        payload.extend_from_slice(null_bitmap);
        match types {
            Some(types) => {
                payload.push(1);
                for (code, flags) in types {
                    payload.push(*code);
                    payload.push(*flags);
                }
            }
            None => payload.push(0),
        }
        payload.extend_from_slice(values);
        payload
    }

    fn executed(statements: &mut PreparedStatements, payload: &[u8]) -> Option<String> {
        statements.execute(payload).ok()
    }

    #[test]
    fn decodes_binary_parameters_of_every_kind() {
        let mut statements = PreparedStatements::default();
        let sql = "insert into t values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let Ok((id, parameters)) = statements.prepare(sql.to_owned()) else {
            panic!("prepare failed");
        };
        assert_eq!(parameters, 10);
        let types = [
            (0x01, 0x00), // TINY -1
            (0x02, 0x80), // SHORT unsigned 65535
            (0x03, 0x00), // LONG -2
            (0x08, 0x80), // LONGLONG unsigned max
            (0x04, 0x00), // FLOAT 1.5
            (0x05, 0x00), // DOUBLE -0.25
            (0xF6, 0x00), // NEWDECIMAL "3.14"
            (0xFD, 0x00), // VAR_STRING "a'b"
            (0x0C, 0x00), // DATETIME
            (0x06, 0x00), // NULL, flagged in the bitmap
        ];
        let mut values = vec![0xFF];
        values.extend_from_slice(&[0xFF, 0xFF]);
        values.extend_from_slice(&(-2i32).to_le_bytes());
        values.extend_from_slice(&u64::MAX.to_le_bytes());
        values.extend_from_slice(&1.5f32.to_le_bytes());
        values.extend_from_slice(&(-0.25f64).to_le_bytes());
        values.extend_from_slice(b"\x043.14");
        values.extend_from_slice(b"\x03a'b");
        values.extend_from_slice(&[11, 0xE8, 0x07, 12, 31, 23, 59, 58]);
        values.extend_from_slice(&7u32.to_le_bytes());
        let payload = execute_payload(id, &[0x00, 0x02], Some(&types), &values);
        assert_eq!(
            executed(&mut statements, &payload).as_deref(),
            Some(
                "insert into t values (-1, 65535, -2, 18446744073709551615, 1.5, -0.25, 3.14, 'a\\'b', '2024-12-31 23:59:58.000007', NULL)"
            )
        );

        // A second execute without types reuses the remembered ones.
        let mut statements = PreparedStatements::default();
        let Ok((id, _)) = statements.prepare("select ? + ?".to_owned()) else {
            panic!("prepare failed");
        };
        let first = execute_payload(
            id,
            &[0],
            Some(&[(0x03, 0), (0x0A, 0)]),
            &[5, 0, 0, 0, 4, 0xE8, 0x07, 1, 2],
        );
        assert_eq!(
            executed(&mut statements, &first).as_deref(),
            Some("select 5 + '2024-01-02'")
        );
        let second = execute_payload(id, &[0b10], None, &[6, 0, 0, 0]);
        assert_eq!(
            executed(&mut statements, &second).as_deref(),
            Some("select 6 + NULL")
        );
    }

    #[test]
    fn rejects_bad_execute_packets() {
        let mut statements = PreparedStatements::default();
        let Ok((id, _)) = statements.prepare("select ?".to_owned()) else {
            panic!("prepare failed");
        };
        // No types ever sent.
        let payload = execute_payload(id, &[0], None, &[1]);
        assert!(matches!(
            statements.execute(&payload),
            Err(ExecuteError::Protocol(ProtocolError::Malformed { .. }))
        ));
        // Truncated value.
        let payload = execute_payload(id, &[0], Some(&[(0x08, 0)]), &[1, 2]);
        assert!(matches!(
            statements.execute(&payload),
            Err(ExecuteError::Protocol(_))
        ));
        // Unknown type code.
        let payload = execute_payload(id, &[0], Some(&[(0x42, 0)]), &[1]);
        assert!(matches!(
            statements.execute(&payload),
            Err(ExecuteError::Protocol(_))
        ));
        // Unknown statement.
        let payload = execute_payload(id + 1, &[0], Some(&[(0x01, 0)]), &[1]);
        assert!(matches!(
            statements.execute(&payload),
            Err(ExecuteError::Session(ErrorPacket { code: 1243, .. }))
        ));
        // Every truncation of a valid packet is an error, never a panic.
        let valid = execute_payload(
            id,
            &[0],
            Some(&[(0x0C, 0)]),
            &[7, 0xE8, 0x07, 1, 2, 3, 4, 5],
        );
        assert!(statements.execute(&valid).is_ok());
        for length in 0..valid.len() {
            let mut statements = PreparedStatements::default();
            let _ = statements.prepare("select ?".to_owned());
            assert!(
                statements.execute(&valid[..length]).is_err(),
                "prefix of {length} bytes"
            );
        }
    }

    #[test]
    fn long_data_replaces_inline_values() {
        let mut statements = PreparedStatements::default();
        let Ok((id, _)) = statements.prepare("select ?, ?".to_owned()) else {
            panic!("prepare failed");
        };
        let mut chunk = id.to_le_bytes().to_vec();
        chunk.extend_from_slice(&0u16.to_le_bytes());
        chunk.extend_from_slice(b"long ");
        statements.append_long_data(&chunk, 1 << 20);
        chunk.truncate(6);
        chunk.extend_from_slice(b"text");
        statements.append_long_data(&chunk, 1 << 20);
        let payload = execute_payload(id, &[0], Some(&[(0xFC, 0), (0x01, 0)]), &[9]);
        assert_eq!(
            executed(&mut statements, &payload).as_deref(),
            Some("select 'long text', 9")
        );
        // Long data does not carry over to the next execute.
        let payload = execute_payload(id, &[0], None, &[b'\x01', b'x', 8]);
        assert_eq!(
            executed(&mut statements, &payload).as_deref(),
            Some("select 'x', 8")
        );
    }
}
