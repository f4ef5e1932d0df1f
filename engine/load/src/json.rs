//! JSON as StarRocks reads it: one or more JSON documents, each a row object or (with
//! `strip_outer_array`) an array of them; `json_root` picks the element holding the rows, and
//! `jsonpaths` picks each column's value. Without `jsonpaths` values are matched to columns by
//! key.

use serde_json::Value;

use crate::error::LoadError;
use crate::options::{JsonOptions, JsonPath, JsonStep};
use crate::reader::{RawBatchBuilder, RowError};

/// The longest text of a rejected row kept for the error log.
const ERROR_ROW_LIMIT: usize = 1024;

fn lookup<'a>(value: &'a Value, path: &JsonPath) -> Option<&'a Value> {
    let mut current = value;
    for step in &path.steps {
        current = match (step, current) {
            (JsonStep::Key(key), Value::Object(map)) => map.get(key)?,
            (JsonStep::Index(index), Value::Array(items)) => items.get(*index)?,
            _ => return None,
        };
    }
    Some(current)
}

fn key_lookup<'a>(row: &'a Value, name: &str) -> Option<&'a Value> {
    let Value::Object(map) = row else { return None };
    map.get(name).or_else(|| {
        map.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// A JSON value as the text a column converts from.
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(if *flag { "1" } else { "0" }.to_string()),
        Value::Number(number) => Some(number.to_string()),
        Value::Array(_) | Value::Object(_) => Some(value.to_string()),
    }
}

fn shown(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > ERROR_ROW_LIMIT {
        let mut end = ERROR_ROW_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

fn read_row(row: &Value, options: &JsonOptions, names: &[String], builder: &mut RawBatchBuilder, row_number: &mut u64) {
    *row_number += 1;
    let values: Vec<Option<String>> = match &options.json_paths {
        Some(paths) => paths
            .iter()
            .map(|path| lookup(row, path).and_then(value_text))
            .collect(),
        None => {
            if !row.is_object() {
                builder.reject(RowError {
                    row_number: *row_number,
                    reason: "The JSON row is not an object; use jsonpaths to load other values".to_string(),
                    row: shown(row),
                });
                return;
            }
            names.iter().map(|name| key_lookup(row, name).and_then(value_text)).collect()
        }
    };
    let texts: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
    builder.append(*row_number, &texts);
}

/// Reads every document of `data`. A document that is not JSON at all ends the load with an
/// error (the reader cannot know where the next row starts); a row of the wrong shape is
/// rejected on its own.
pub(crate) fn read_json(data: &[u8], options: &JsonOptions, builder: &mut RawBatchBuilder) -> Result<(), LoadError> {
    if let Some(paths) = &options.json_paths {
        if paths.len() != builder.source_columns() {
            return Err(LoadError::InvalidParameter(format!(
                "jsonpaths has {} paths but the load has {} source columns",
                paths.len(),
                builder.source_columns()
            )));
        }
    }
    let names = builder.names().to_vec();
    let mut row_number = 0u64;
    let documents = serde_json::Deserializer::from_slice(data).into_iter::<Value>();
    for document in documents {
        let document = document.map_err(|error| {
            LoadError::MalformedBody(format!(
                "The body is not valid JSON after {row_number} rows (line {}, column {}): {error}",
                error.line(),
                error.column()
            ))
        })?;
        let root = match &options.json_root {
            Some(path) => match lookup(&document, path) {
                Some(root) => root,
                None => {
                    row_number += 1;
                    builder.reject(RowError {
                        row_number,
                        reason: format!("json_root {} matches nothing in the document", path.text),
                        row: shown(&document),
                    });
                    continue;
                }
            },
            None => &document,
        };
        match root {
            Value::Array(rows) if options.strip_outer_array => {
                for row in rows {
                    read_row(row, options, &names, builder, &mut row_number);
                }
            }
            Value::Array(_) => {
                row_number += 1;
                builder.reject(RowError {
                    row_number,
                    reason: "The JSON document is an array; set strip_outer_array to true to load its elements as rows"
                        .to_string(),
                    row: shown(root),
                });
            }
            row => read_row(row, options, &names, builder, &mut row_number),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::parse_json_path;

    fn read(data: &str, options: &JsonOptions, names: &[&str]) -> (Vec<Vec<Option<String>>>, Vec<RowError>) {
        let mut builder = RawBatchBuilder::new(names.iter().map(|name| name.to_string()).collect(), 100);
        let result = read_json(data.as_bytes(), options, &mut builder);
        assert!(result.is_ok(), "{result:?}");
        let (batches, errors) = builder.finish();
        (crate::reader::text_rows(&batches), errors)
    }

    #[test]
    fn objects_by_key_and_lines() {
        let (rows, errors) = read(
            "{\"id\": 1, \"name\": \"a\"}\n{\"ID\": 2, \"extra\": true}\n[1,2]\n",
            &JsonOptions::default(),
            &["id", "name"],
        );
        assert_eq!(
            rows,
            vec![vec![Some("1".into()), Some("a".into())], vec![Some("2".into()), None]]
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].row_number, 3);
    }

    #[test]
    fn outer_array_root_and_paths() {
        let options = JsonOptions {
            json_paths: Some(vec![parse_json_path("$.k").expect("path"), parse_json_path("$.v.inner[1]").expect("path")]),
            strip_outer_array: true,
            json_root: parse_json_path("$.data").ok(),
        };
        let (rows, errors) = read(
            "{\"data\": [{\"k\": \"x\", \"v\": {\"inner\": [0, 2.5]}}, {\"k\": \"y\", \"v\": {\"inner\": [{\"deep\": 1}, {\"o\": null}]}}]}",
            &options,
            &["key", "value"],
        );
        assert!(errors.is_empty());
        assert_eq!(
            rows,
            vec![
                vec![Some("x".into()), Some("2.5".into())],
                vec![Some("y".into()), Some("{\"o\":null}".into())]
            ]
        );
    }

    #[test]
    fn broken_json_fails_the_load() {
        let mut builder = RawBatchBuilder::new(vec!["a".into()], 10);
        let result = read_json(b"{\"a\": 1}\n{\"a\": ", &JsonOptions::default(), &mut builder);
        assert!(matches!(result, Err(LoadError::MalformedBody(_))));
    }
}
