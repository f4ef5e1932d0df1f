//! Column definitions of result sets and the default mapping from Arrow fields.

use std::ops::{BitOr, BitOrAssign};

use arrow::datatypes::{DataType, Field};

use crate::packet::{put_lenenc_bytes, put_lenenc_int, put_u16, put_u32};

/// `utf8_general_ci`, what StarRocks reports for string columns.
pub(crate) const UTF8_GENERAL_CI: u16 = 33;
/// `binary`, for numbers, temporal values and blobs.
pub(crate) const BINARY_CHARSET: u16 = 63;

/// Field metadata key that carries the StarRocks column type (e.g. `largeint(40)`,
/// `datetime`), for types Arrow cannot tell apart.
pub const STARROCKS_TYPE_METADATA_KEY: &str = "starrocks.type";

/// A result set column, as the protocol 4.1 column definition packet carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub schema: String,
    pub table: String,
    pub org_table: String,
    pub name: String,
    pub org_name: String,
    pub column_type: ColumnType,
    /// The display width in characters (or bytes for binary columns).
    pub length: u32,
    /// Digits after the decimal point for DECIMAL, fractional second digits for DATETIME
    /// (0 prints none), 31 for floating point.
    pub decimals: u8,
    pub flags: ColumnFlags,
    pub character_set: u16,
}

/// The MYSQL_TYPE_* codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ColumnType {
    Decimal = 0x00,
    Tiny = 0x01,
    Short = 0x02,
    Long = 0x03,
    Float = 0x04,
    Double = 0x05,
    Null = 0x06,
    Timestamp = 0x07,
    LongLong = 0x08,
    Int24 = 0x09,
    Date = 0x0A,
    Time = 0x0B,
    DateTime = 0x0C,
    Year = 0x0D,
    NewDate = 0x0E,
    VarChar = 0x0F,
    Bit = 0x10,
    Json = 0xF5,
    NewDecimal = 0xF6,
    Enum = 0xF7,
    Set = 0xF8,
    TinyBlob = 0xF9,
    MediumBlob = 0xFA,
    LongBlob = 0xFB,
    Blob = 0xFC,
    VarString = 0xFD,
    String = 0xFE,
    Geometry = 0xFF,
}

impl ColumnType {
    pub const fn code(self) -> u8 {
        self as u8
    }

    pub const fn from_code(code: u8) -> Option<ColumnType> {
        Some(match code {
            0x00 => ColumnType::Decimal,
            0x01 => ColumnType::Tiny,
            0x02 => ColumnType::Short,
            0x03 => ColumnType::Long,
            0x04 => ColumnType::Float,
            0x05 => ColumnType::Double,
            0x06 => ColumnType::Null,
            0x07 => ColumnType::Timestamp,
            0x08 => ColumnType::LongLong,
            0x09 => ColumnType::Int24,
            0x0A => ColumnType::Date,
            0x0B => ColumnType::Time,
            0x0C => ColumnType::DateTime,
            0x0D => ColumnType::Year,
            0x0E => ColumnType::NewDate,
            0x0F => ColumnType::VarChar,
            0x10 => ColumnType::Bit,
            0xF5 => ColumnType::Json,
            0xF6 => ColumnType::NewDecimal,
            0xF7 => ColumnType::Enum,
            0xF8 => ColumnType::Set,
            0xF9 => ColumnType::TinyBlob,
            0xFA => ColumnType::MediumBlob,
            0xFB => ColumnType::LongBlob,
            0xFC => ColumnType::Blob,
            0xFD => ColumnType::VarString,
            0xFE => ColumnType::String,
            0xFF => ColumnType::Geometry,
            _ => return None,
        })
    }
}

/// The column definition flags (NOT_NULL_FLAG, UNSIGNED_FLAG, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ColumnFlags(pub u16);

impl ColumnFlags {
    pub const NOT_NULL: ColumnFlags = ColumnFlags(0x0001);
    pub const PRIMARY_KEY: ColumnFlags = ColumnFlags(0x0002);
    pub const UNIQUE_KEY: ColumnFlags = ColumnFlags(0x0004);
    pub const MULTIPLE_KEY: ColumnFlags = ColumnFlags(0x0008);
    pub const BLOB: ColumnFlags = ColumnFlags(0x0010);
    pub const UNSIGNED: ColumnFlags = ColumnFlags(0x0020);
    pub const ZEROFILL: ColumnFlags = ColumnFlags(0x0040);
    pub const BINARY: ColumnFlags = ColumnFlags(0x0080);
    pub const ENUM: ColumnFlags = ColumnFlags(0x0100);
    pub const AUTO_INCREMENT: ColumnFlags = ColumnFlags(0x0200);
    pub const TIMESTAMP: ColumnFlags = ColumnFlags(0x0400);
    pub const SET: ColumnFlags = ColumnFlags(0x0800);
    pub const NO_DEFAULT_VALUE: ColumnFlags = ColumnFlags(0x1000);
    pub const ON_UPDATE_NOW: ColumnFlags = ColumnFlags(0x2000);
    pub const NUM: ColumnFlags = ColumnFlags(0x8000);

    pub const fn empty() -> ColumnFlags {
        ColumnFlags(0)
    }

    pub const fn bits(self) -> u16 {
        self.0
    }

    pub const fn contains(self, other: ColumnFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for ColumnFlags {
    type Output = ColumnFlags;
    fn bitor(self, other: ColumnFlags) -> ColumnFlags {
        ColumnFlags(self.0 | other.0)
    }
}

impl BitOrAssign for ColumnFlags {
    fn bitor_assign(&mut self, other: ColumnFlags) {
        self.0 |= other.0;
    }
}

impl Column {
    /// A column with the given name and type, binary charset, no flags; adjust fields after.
    pub fn new(name: impl Into<String>, column_type: ColumnType) -> Column {
        let name = name.into();
        Column {
            schema: String::new(),
            table: String::new(),
            org_table: String::new(),
            org_name: name.clone(),
            name,
            column_type,
            length: 0,
            decimals: 0,
            flags: ColumnFlags::empty(),
            character_set: BINARY_CHARSET,
        }
    }

    /// The default mapping of an engine result field to a MySQL column:
    /// Boolean to TINY(1); Int8/16/32/64 to TINY/SHORT/LONG/LONGLONG (unsigned types add
    /// UNSIGNED); Float32/64 to FLOAT/DOUBLE; Decimal to NEWDECIMAL with its scale; Date to
    /// DATE; Timestamp to DATETIME, printing a fraction only when a value has one, unless the
    /// `starrocks.type` metadata names a `datetime(n)`; strings to VAR_STRING utf8; binary to BLOB; Null to NULL; dictionaries as
    /// their values; anything else to VAR_STRING holding Arrow's display text. Metadata
    /// `starrocks.type` = `largeint...` gives VAR_STRING of width 40 holding the integer.
    /// Non-nullable fields get NOT_NULL.
    pub fn from_arrow_field(field: &Field) -> Column {
        let mut column = Column::new(field.name().clone(), ColumnType::VarString);
        let starrocks_type = field
            .metadata()
            .get(STARROCKS_TYPE_METADATA_KEY)
            .map(|value| value.trim().to_ascii_lowercase());
        let data_type = match field.data_type() {
            DataType::Dictionary(_, value_type) => value_type.as_ref(),
            data_type => data_type,
        };
        set_type_from_arrow(&mut column, data_type);
        match starrocks_type.as_deref() {
            Some(starrocks_type) if starrocks_type.starts_with("largeint") => {
                column.column_type = ColumnType::VarString;
                column.length = 40;
                column.decimals = 0;
                column.character_set = UTF8_GENERAL_CI;
                column.flags = ColumnFlags::empty();
            }
            Some(starrocks_type)
                if starrocks_type.starts_with("datetime")
                    && column.column_type == ColumnType::DateTime =>
            {
                column.decimals = parenthesized_number(starrocks_type).unwrap_or(0).min(6);
                column.length = datetime_length(column.decimals);
            }
            _ => {}
        }
        if !field.is_nullable() {
            column.flags |= ColumnFlags::NOT_NULL;
        }
        column
    }

    /// Column definition packet, protocol 4.1.
    pub(crate) fn put_definition(&self, buffer: &mut Vec<u8>) {
        put_lenenc_bytes(buffer, b"def");
        put_lenenc_bytes(buffer, self.schema.as_bytes());
        put_lenenc_bytes(buffer, self.table.as_bytes());
        put_lenenc_bytes(buffer, self.org_table.as_bytes());
        put_lenenc_bytes(buffer, self.name.as_bytes());
        put_lenenc_bytes(buffer, self.org_name.as_bytes());
        put_lenenc_int(buffer, 0x0C);
        put_u16(buffer, self.character_set);
        put_u32(buffer, self.length);
        buffer.push(self.column_type.code());
        put_u16(buffer, self.flags.bits());
        buffer.push(self.decimals);
        put_u16(buffer, 0);
    }
}

fn set_type_from_arrow(column: &mut Column, data_type: &DataType) {
    let (column_type, length, decimals, flags, character_set) = match data_type {
        DataType::Null => (ColumnType::Null, 0, 0, ColumnFlags::BINARY, BINARY_CHARSET),
        DataType::Boolean => (ColumnType::Tiny, 1, 0, ColumnFlags::NUM, BINARY_CHARSET),
        DataType::Int8 => (ColumnType::Tiny, 4, 0, ColumnFlags::NUM, BINARY_CHARSET),
        DataType::Int16 => (ColumnType::Short, 6, 0, ColumnFlags::NUM, BINARY_CHARSET),
        DataType::Int32 => (ColumnType::Long, 11, 0, ColumnFlags::NUM, BINARY_CHARSET),
        DataType::Int64 => (
            ColumnType::LongLong,
            20,
            0,
            ColumnFlags::NUM,
            BINARY_CHARSET,
        ),
        DataType::UInt8 => (ColumnType::Tiny, 3, 0, unsigned(), BINARY_CHARSET),
        DataType::UInt16 => (ColumnType::Short, 5, 0, unsigned(), BINARY_CHARSET),
        DataType::UInt32 => (ColumnType::Long, 10, 0, unsigned(), BINARY_CHARSET),
        DataType::UInt64 => (ColumnType::LongLong, 20, 0, unsigned(), BINARY_CHARSET),
        DataType::Float16 | DataType::Float32 => {
            (ColumnType::Float, 12, 31, ColumnFlags::NUM, BINARY_CHARSET)
        }
        DataType::Float64 => (ColumnType::Double, 22, 31, ColumnFlags::NUM, BINARY_CHARSET),
        DataType::Decimal32(precision, scale)
        | DataType::Decimal64(precision, scale)
        | DataType::Decimal128(precision, scale)
        | DataType::Decimal256(precision, scale) => {
            let decimals = u8::try_from(*scale).unwrap_or(0);
            // Digits, sign and decimal point.
            let length = u32::from(*precision) + 1 + u32::from(decimals > 0);
            (
                ColumnType::NewDecimal,
                length,
                decimals,
                ColumnFlags::NUM,
                BINARY_CHARSET,
            )
        }
        DataType::Date32 | DataType::Date64 => {
            (ColumnType::Date, 10, 0, ColumnFlags::BINARY, BINARY_CHARSET)
        }
        DataType::Timestamp(_, _) => {
            // StarRocks' DATETIME prints a fraction only when the value has one, whatever
            // the unit it is computed in; decimals 0 asks for exactly that.
            let decimals = 0;
            (
                ColumnType::DateTime,
                // Long enough for the fraction that a value may still carry.
                datetime_length(6),
                decimals,
                ColumnFlags::BINARY,
                BINARY_CHARSET,
            )
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => (
            ColumnType::Blob,
            65535,
            0,
            ColumnFlags::BLOB | ColumnFlags::BINARY,
            BINARY_CHARSET,
        ),
        // Strings, and every other type as its display text.
        _ => (
            ColumnType::VarString,
            65533 * 3,
            0,
            ColumnFlags::empty(),
            UTF8_GENERAL_CI,
        ),
    };
    column.column_type = column_type;
    column.length = length;
    column.decimals = decimals;
    column.flags = flags;
    column.character_set = character_set;
}

fn unsigned() -> ColumnFlags {
    ColumnFlags::NUM | ColumnFlags::UNSIGNED
}

fn datetime_length(decimals: u8) -> u32 {
    if decimals == 0 {
        19
    } else {
        20 + u32::from(decimals)
    }
}

/// The `n` of `datetime(n)`.
fn parenthesized_number(text: &str) -> Option<u8> {
    let open = text.find('(')?;
    let close = text[open..].find(')')? + open;
    text[open + 1..close].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::datatypes::TimeUnit;

    use super::*;

    #[test]
    fn maps_arrow_fields() {
        let cases = [
            (DataType::Boolean, ColumnType::Tiny, 1, 0),
            (DataType::Int8, ColumnType::Tiny, 4, 0),
            (DataType::Int16, ColumnType::Short, 6, 0),
            (DataType::Int32, ColumnType::Long, 11, 0),
            (DataType::Int64, ColumnType::LongLong, 20, 0),
            (DataType::Float32, ColumnType::Float, 12, 31),
            (DataType::Float64, ColumnType::Double, 22, 31),
            (DataType::Decimal128(10, 2), ColumnType::NewDecimal, 12, 2),
            (DataType::Date32, ColumnType::Date, 10, 0),
            (
                DataType::Timestamp(TimeUnit::Second, None),
                ColumnType::DateTime,
                26,
                0,
            ),
            (
                DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
                ColumnType::DateTime,
                26,
                0,
            ),
            (DataType::Utf8, ColumnType::VarString, 65533 * 3, 0),
            (DataType::Utf8View, ColumnType::VarString, 65533 * 3, 0),
            (DataType::Binary, ColumnType::Blob, 65535, 0),
            (DataType::Null, ColumnType::Null, 0, 0),
            (
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                ColumnType::VarString,
                65533 * 3,
                0,
            ),
        ];
        for (data_type, column_type, length, decimals) in cases {
            let column = Column::from_arrow_field(&Field::new("c", data_type.clone(), true));
            assert_eq!(column.column_type, column_type, "{data_type}");
            assert_eq!(column.length, length, "{data_type}");
            assert_eq!(column.decimals, decimals, "{data_type}");
            assert!(!column.flags.contains(ColumnFlags::NOT_NULL));
            assert!(!column.flags.contains(ColumnFlags::UNSIGNED));
        }
        let string = Column::from_arrow_field(&Field::new("s", DataType::Utf8, true));
        assert_eq!(string.character_set, UTF8_GENERAL_CI);
        let blob = Column::from_arrow_field(&Field::new("b", DataType::Binary, true));
        assert_eq!(blob.character_set, BINARY_CHARSET);
    }

    #[test]
    fn unsigned_and_not_null_flags() {
        let column = Column::from_arrow_field(&Field::new("u", DataType::UInt32, false));
        assert_eq!(column.column_type, ColumnType::Long);
        assert!(column.flags.contains(ColumnFlags::UNSIGNED));
        assert!(column.flags.contains(ColumnFlags::NOT_NULL));
        assert_eq!(column.name, "u");
        assert_eq!(column.org_name, "u");
    }

    #[test]
    fn starrocks_metadata() {
        let largeint =
            Field::new("l", DataType::Decimal128(38, 0), true).with_metadata(HashMap::from([(
                STARROCKS_TYPE_METADATA_KEY.to_owned(),
                "largeint(40)".to_owned(),
            )]));
        let column = Column::from_arrow_field(&largeint);
        assert_eq!(column.column_type, ColumnType::VarString);
        assert_eq!(column.length, 40);
        assert_eq!(column.character_set, UTF8_GENERAL_CI);

        let datetime = Field::new("d", DataType::Timestamp(TimeUnit::Microsecond, None), true)
            .with_metadata(HashMap::from([(
                STARROCKS_TYPE_METADATA_KEY.to_owned(),
                "datetime".to_owned(),
            )]));
        assert_eq!(Column::from_arrow_field(&datetime).decimals, 0);
        let datetime3 = datetime.with_metadata(HashMap::from([(
            STARROCKS_TYPE_METADATA_KEY.to_owned(),
            "DATETIME(3)".to_owned(),
        )]));
        assert_eq!(Column::from_arrow_field(&datetime3).decimals, 3);
    }

    #[test]
    fn column_type_codes_round_trip() {
        for code in 0..=255u8 {
            if let Some(column_type) = ColumnType::from_code(code) {
                assert_eq!(column_type.code(), code);
            }
        }
        assert_eq!(ColumnType::from_code(0x11), None);
    }
}
