//! CSV as StarRocks reads it: multi-byte column separators and row delimiters, `\N` for
//! NULL, optional enclose and escape characters, `trim_space` and `skip_header`. Rows whose
//! field count is wrong are rejected one by one; the rest of the body still loads.

use std::borrow::Cow;

use memchr::memmem;

use crate::options::CsvOptions;
use crate::reader::{RawBatchBuilder, RowError};

/// StarRocks' NULL marker in CSV.
const NULL_MARKER: &[u8] = b"\\N";

/// Splits `data` into rows and feeds them to `builder`. `source_columns` is the number of
/// fields each row must have.
pub(crate) fn read_csv(data: &[u8], options: &CsvOptions, builder: &mut RawBatchBuilder) {
    let mut row_number: u64 = 0;
    let mut skipped = 0usize;
    let mut fields: Vec<Option<Cow<'_, [u8]>>> = Vec::with_capacity(builder.source_columns());
    let quoted = options.enclose.is_some() || options.escape.is_some();
    let mut position = 0usize;
    let row_finder = memmem::Finder::new(&options.row_delimiter);
    while position < data.len() {
        let (row_end, next) = if quoted {
            find_row_end_quoted(data, position, options)
        } else {
            match row_finder.find(&data[position..]) {
                Some(offset) => (position + offset, position + offset + options.row_delimiter.len()),
                None => (data.len(), data.len()),
            }
        };
        let row = &data[position..row_end];
        position = next;
        if skipped < options.skip_header {
            skipped += 1;
            continue;
        }
        // An empty line (the final delimiter of a file, or a blank line) holds no row.
        if row.is_empty() {
            continue;
        }
        row_number += 1;
        fields.clear();
        if quoted {
            split_fields_quoted(row, options, &mut fields);
        } else {
            split_fields_plain(row, options, &mut fields);
        }
        if fields.len() != builder.source_columns() {
            builder.reject(RowError {
                row_number,
                reason: format!(
                    "Value count does not match column count. Expect {}, but got {}",
                    builder.source_columns(),
                    fields.len()
                ),
                row: String::from_utf8_lossy(row).into_owned(),
            });
            continue;
        }
        let mut texts: Vec<Option<&str>> = Vec::with_capacity(fields.len());
        let mut invalid = false;
        // One UTF-8 check per row instead of per field; fields borrowed from the row are then
        // taken from the checked text by their offsets.
        let row_text = std::str::from_utf8(row).ok();
        let row_start = row.as_ptr() as usize;
        for field in &fields {
            let text = match field {
                None => {
                    texts.push(None);
                    continue;
                }
                Some(Cow::Borrowed(bytes)) if row_text.is_some() => {
                    // A field inside the row is the same memory as that range of its text.
                    let offset = (bytes.as_ptr() as usize).wrapping_sub(row_start);
                    if offset.checked_add(bytes.len()).is_some_and(|end| end <= row.len()) {
                        row_text.and_then(|text| text.get(offset..offset + bytes.len()))
                    } else {
                        std::str::from_utf8(bytes).ok()
                    }
                }
                Some(bytes) => std::str::from_utf8(bytes).ok(),
            };
            match text {
                Some(text) => texts.push(Some(text)),
                None => {
                    invalid = true;
                    break;
                }
            }
        }
        if invalid {
            builder.reject(RowError {
                row_number,
                reason: "The row is not valid UTF-8".to_string(),
                row: String::from_utf8_lossy(row).into_owned(),
            });
            continue;
        }
        builder.append(row_number, &texts);
    }
}

fn trim(field: &[u8]) -> &[u8] {
    let start = field.iter().position(|byte| *byte != b' ').unwrap_or(field.len());
    let end = field.iter().rposition(|byte| *byte != b' ').map(|end| end + 1).unwrap_or(start);
    &field[start..end.max(start)]
}

fn field_value(field: &[u8], trim_space: bool) -> Option<&[u8]> {
    let field = if trim_space { trim(field) } else { field };
    if field == NULL_MARKER { None } else { Some(field) }
}

fn split_fields_plain<'a>(row: &'a [u8], options: &CsvOptions, fields: &mut Vec<Option<Cow<'a, [u8]>>>) {
    let separator = options.column_separator.as_slice();
    if separator.len() == 1 {
        for field in row.split(|byte| *byte == separator[0]) {
            fields.push(field_value(field, options.trim_space).map(Cow::Borrowed));
        }
        return;
    }
    let mut start = 0;
    for offset in memmem::find_iter(row, separator) {
        if offset < start {
            continue;
        }
        fields.push(field_value(&row[start..offset], options.trim_space).map(Cow::Borrowed));
        start = offset + separator.len();
    }
    fields.push(field_value(&row[start..], options.trim_space).map(Cow::Borrowed));
}

/// The end of the row that starts at `start`, skipping delimiters inside enclosed fields or
/// after the escape character. Returns (end of row, start of the next row).
fn find_row_end_quoted(data: &[u8], start: usize, options: &CsvOptions) -> (usize, usize) {
    let delimiter = options.row_delimiter.as_slice();
    let mut position = start;
    let mut in_enclose = false;
    let mut field_start = true;
    while position < data.len() {
        let byte = data[position];
        if Some(byte) == options.escape && position + 1 < data.len() {
            position += 2;
            field_start = false;
            continue;
        }
        if in_enclose {
            if Some(byte) == options.enclose {
                if data.get(position + 1).copied() == options.enclose {
                    position += 2;
                    continue;
                }
                in_enclose = false;
            }
            position += 1;
            continue;
        }
        if data[position..].starts_with(delimiter) {
            return (position, position + delimiter.len());
        }
        if data[position..].starts_with(&options.column_separator) {
            position += options.column_separator.len();
            field_start = true;
            continue;
        }
        if Some(byte) == options.enclose && (field_start || options.trim_space) {
            in_enclose = true;
        }
        if byte != b' ' {
            field_start = false;
        }
        position += 1;
    }
    (data.len(), data.len())
}

fn split_fields_quoted(row: &[u8], options: &CsvOptions, fields: &mut Vec<Option<Cow<'_, [u8]>>>) {
    let separator = options.column_separator.as_slice();
    let mut value: Vec<u8> = Vec::new();
    let mut was_enclosed = false;
    let mut in_enclose = false;
    let mut position = 0;
    let finish = |value: &mut Vec<u8>, was_enclosed: bool, fields: &mut Vec<Option<Cow<'_, [u8]>>>| {
        let taken = std::mem::take(value);
        if was_enclosed {
            // An enclosed `\N` is the text, not NULL; spaces outside the quotes were dropped.
            fields.push(Some(Cow::Owned(taken)));
        } else {
            fields.push(field_value(&taken, options.trim_space).map(|field| Cow::Owned(field.to_vec())));
        }
    };
    while position < row.len() {
        let byte = row[position];
        if Some(byte) == options.escape && position + 1 < row.len() {
            value.push(row[position + 1]);
            position += 2;
            continue;
        }
        if in_enclose {
            if Some(byte) == options.enclose {
                if row.get(position + 1).copied() == options.enclose {
                    value.push(byte);
                    position += 2;
                    continue;
                }
                in_enclose = false;
                position += 1;
                continue;
            }
            value.push(byte);
            position += 1;
            continue;
        }
        if row[position..].starts_with(separator) {
            finish(&mut value, was_enclosed, fields);
            was_enclosed = false;
            position += separator.len();
            continue;
        }
        if Some(byte) == options.enclose && !was_enclosed && value.iter().all(|byte| *byte == b' ') {
            if !options.trim_space && !value.is_empty() {
                value.push(byte);
                position += 1;
                continue;
            }
            value.clear();
            in_enclose = true;
            was_enclosed = true;
            position += 1;
            continue;
        }
        if was_enclosed && byte == b' ' && options.trim_space {
            position += 1;
            continue;
        }
        value.push(byte);
        position += 1;
    }
    finish(&mut value, was_enclosed, fields);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::parse_separator;

    fn read(data: &str, options: &CsvOptions, columns: usize) -> (Vec<Vec<Option<String>>>, Vec<RowError>) {
        let names: Vec<String> = (0..columns).map(|index| format!("c{index}")).collect();
        let mut builder = RawBatchBuilder::new(names, 1000);
        read_csv(data.as_bytes(), options, &mut builder);
        let (batches, errors) = builder.finish();
        (crate::reader::text_rows(&batches), errors)
    }

    fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|value| value.map(str::to_string)).collect()
    }

    #[test]
    fn plain_rows_nulls_and_bad_counts() {
        let options = CsvOptions {
            column_separator: b",".to_vec(),
            ..CsvOptions::default()
        };
        let (rows, errors) = read("1,a\n2,\\N\n3\n\n4,d,extra\n5,e", &options, 2);
        assert_eq!(rows, vec![row(&[Some("1"), Some("a")]), row(&[Some("2"), None]), row(&[Some("5"), Some("e")])]);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].row_number, 3);
        assert_eq!(errors[0].row, "3");
        assert!(errors[0].reason.contains("Expect 2, but got 1"));
        assert_eq!(errors[1].row_number, 4);
    }

    #[test]
    fn multi_byte_separators_and_header() {
        let options = CsvOptions {
            column_separator: parse_separator("s", "\\x01\\x02").ok().unwrap_or_default(),
            row_delimiter: b"||".to_vec(),
            skip_header: 1,
            ..CsvOptions::default()
        };
        let (rows, errors) = read("k\x01\x02v||1\x01\x02x||2\x01\x02y||", &options, 2);
        assert!(errors.is_empty());
        assert_eq!(rows, vec![row(&[Some("1"), Some("x")]), row(&[Some("2"), Some("y")])]);
    }

    #[test]
    fn enclose_escape_and_trim() {
        let options = CsvOptions {
            column_separator: b",".to_vec(),
            enclose: Some(b'"'),
            escape: Some(b'\\'),
            trim_space: true,
            ..CsvOptions::default()
        };
        let data = "1, \"a,b\" ,x\n2,\"line\nbreak\",\"say \"\"hi\"\"\"\n3,c\\,d,\"\\N\"\n";
        let (rows, errors) = read(data, &options, 3);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            rows,
            vec![
                row(&[Some("1"), Some("a,b"), Some("x")]),
                row(&[Some("2"), Some("line\nbreak"), Some("say \"hi\"")]),
                row(&[Some("3"), Some("c,d"), Some("N")]),
            ]
        );
    }

    #[test]
    fn invalid_utf8_rejects_the_row_only() {
        let options = CsvOptions {
            column_separator: b",".to_vec(),
            ..CsvOptions::default()
        };
        let mut data = b"1,a\n2,".to_vec();
        data.extend_from_slice(&[0xff, 0xfe]);
        data.extend_from_slice(b"\n3,c\n");
        let names = vec!["a".to_string(), "b".to_string()];
        let mut builder = RawBatchBuilder::new(names, 1000);
        read_csv(&data, &options, &mut builder);
        let (batches, errors) = builder.finish();
        assert_eq!(batches.iter().map(|batch| batch.num_rows()).sum::<usize>(), 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].row_number, 2);
    }
}
