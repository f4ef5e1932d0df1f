//! What a load asks for: StarRocks' Stream Load headers and Routine Load properties, parsed
//! and checked once into [`LoadOptions`].

use std::time::Duration;

use crate::error::LoadError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadFormat {
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Deflate,
    Lz4Frame,
    Zstd,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    pub column_separator: Vec<u8>,
    pub row_delimiter: Vec<u8>,
    pub skip_header: usize,
    pub trim_space: bool,
    pub enclose: Option<u8>,
    pub escape: Option<u8>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            column_separator: b"\t".to_vec(),
            row_delimiter: b"\n".to_vec(),
            skip_header: 0,
            trim_space: false,
            enclose: None,
            escape: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonOptions {
    /// `jsonpaths`: one path per source column, in order.
    pub json_paths: Option<Vec<JsonPath>>,
    pub strip_outer_array: bool,
    /// `json_root`: the element of each document that holds the rows.
    pub json_root: Option<JsonPath>,
}

/// A JSON path as StarRocks accepts it: `$`, `$.a.b`, `$.a[0]`, `$["a b"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    pub text: String,
    pub steps: Vec<JsonStep>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JsonStep {
    Key(String),
    Index(usize),
}

/// One item of the `columns` header: a source column, or a derived one (`b = tmp * 100`).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnMapping {
    Source(String),
    Derived { name: String, expression: String },
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub format: LoadFormat,
    pub csv: CsvOptions,
    pub json: JsonOptions,
    pub columns: Option<Vec<ColumnMapping>>,
    pub where_clause: Option<String>,
    pub max_filter_ratio: f64,
    pub timeout: Duration,
    pub strict_mode: bool,
    pub timezone: String,
    pub partitions: Option<Vec<String>>,
    pub compression: Compression,
    pub partial_update: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            format: LoadFormat::Csv,
            csv: CsvOptions::default(),
            json: JsonOptions::default(),
            columns: None,
            where_clause: None,
            max_filter_ratio: 0.0,
            timeout: Duration::from_secs(600),
            strict_mode: false,
            timezone: "Asia/Shanghai".to_string(),
            partitions: None,
            compression: Compression::None,
            partial_update: false,
        }
    }
}

fn invalid(name: &str, value: &str, why: &str) -> LoadError {
    LoadError::InvalidParameter(format!("Invalid value '{value}' for '{name}': {why}"))
}

fn parse_bool(name: &str, value: &str) -> Result<bool, LoadError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(name, value, "expected true or false")),
    }
}

/// A separator or delimiter as StarRocks spells it: plain text, `\t`/`\n`/`\r`/`\\`
/// escapes, or hex bytes like `\x01` (StarRocks' `\x` form covers the rest of the value).
pub fn parse_separator(name: &str, value: &str) -> Result<Vec<u8>, LoadError> {
    if value.is_empty() {
        return Err(invalid(name, value, "it must not be empty"));
    }
    let hex_digit = |byte: u8| (byte as char).to_digit(16).map(|digit| digit as u8);
    // StarRocks' legacy form: one `\x` followed only by hex digits (`\x0102`).
    let legacy = value
        .strip_prefix("\\x")
        .or_else(|| value.strip_prefix("\\X"))
        .filter(|hex| !hex.is_empty() && hex.bytes().all(|byte| byte.is_ascii_hexdigit()));
    let bytes = if let Some(hex) = legacy {
        if hex.len() % 2 != 0 {
            return Err(invalid(name, value, "hex needs two digits per byte after \\x"));
        }
        hex.as_bytes()
            .chunks(2)
            .map(|pair| Some(hex_digit(pair[0])? * 16 + hex_digit(pair[1])?))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| invalid(name, value, "not hexadecimal"))?
    } else {
        let input = value.as_bytes();
        let mut bytes = Vec::with_capacity(input.len());
        let mut position = 0;
        while position < input.len() {
            if input[position] != b'\\' || position + 1 >= input.len() {
                bytes.push(input[position]);
                position += 1;
                continue;
            }
            let escaped = match input[position + 1] {
                b't' => Some(b'\t'),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b'\\' => Some(b'\\'),
                b'0' => Some(0),
                b'x' | b'X' => {
                    let byte = input
                        .get(position + 2..position + 4)
                        .and_then(|pair| Some(hex_digit(pair[0])? * 16 + hex_digit(pair[1])?))
                        .ok_or_else(|| invalid(name, value, "\\x needs two hex digits"))?;
                    bytes.push(byte);
                    position += 4;
                    continue;
                }
                _ => None,
            };
            match escaped {
                Some(byte) => {
                    bytes.push(byte);
                    position += 2;
                }
                None => {
                    bytes.push(b'\\');
                    position += 1;
                }
            }
        }
        bytes
    };
    if bytes.len() > 50 {
        return Err(invalid(name, value, "it may be at most 50 bytes"));
    }
    Ok(bytes)
}

fn parse_single_byte(name: &str, value: &str) -> Result<Option<u8>, LoadError> {
    if value.is_empty() {
        return Ok(None);
    }
    match parse_separator(name, value)?.as_slice() {
        [byte] => Ok(Some(*byte)),
        _ => Err(invalid(name, value, "it must be a single byte")),
    }
}

pub fn parse_json_path(text: &str) -> Result<JsonPath, LoadError> {
    let bad = |why: &str| LoadError::InvalidParameter(format!("Invalid JSON path '{text}': {why}"));
    let trimmed = text.trim();
    let rest = trimmed.strip_prefix('$').ok_or_else(|| bad("it must start with $"))?;
    let mut steps = Vec::new();
    let bytes = rest.as_bytes();
    let mut position = 0;
    while position < bytes.len() {
        match bytes[position] {
            b'.' => {
                let start = position + 1;
                let end = rest[start..]
                    .find(['.', '['])
                    .map(|offset| start + offset)
                    .unwrap_or(rest.len());
                if end == start {
                    return Err(bad("empty key after '.'"));
                }
                steps.push(JsonStep::Key(rest[start..end].to_string()));
                position = end;
            }
            b'[' => {
                let close = rest[position..]
                    .find(']')
                    .map(|offset| position + offset)
                    .ok_or_else(|| bad("missing ']'"))?;
                let inner = rest[position + 1..close].trim();
                if let Some(quoted) = inner
                    .strip_prefix('"')
                    .and_then(|inner| inner.strip_suffix('"'))
                    .or_else(|| inner.strip_prefix('\'').and_then(|inner| inner.strip_suffix('\'')))
                {
                    steps.push(JsonStep::Key(quoted.to_string()));
                } else {
                    let index = inner.parse::<usize>().map_err(|_| bad("an index must be a number"))?;
                    steps.push(JsonStep::Index(index));
                }
                position = close + 1;
            }
            _ => return Err(bad("expected '.' or '['")),
        }
    }
    Ok(JsonPath {
        text: trimmed.to_string(),
        steps,
    })
}

/// Splits `a, tmp, b = tmp * 100` at top-level commas (not inside parentheses or quotes).
fn split_top_level(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut current = String::new();
    for character in text.chars() {
        match quote {
            Some(open) => {
                if character == open {
                    quote = None;
                }
                current.push(character);
            }
            None => match character {
                '\'' | '"' | '`' => {
                    quote = Some(character);
                    current.push(character);
                }
                '(' => {
                    depth += 1;
                    current.push(character);
                }
                ')' => {
                    depth -= 1;
                    current.push(character);
                }
                ',' if depth == 0 => items.push(std::mem::take(&mut current)),
                _ => current.push(character),
            },
        }
    }
    items.push(current);
    items
}

fn unquote_identifier(name: &str) -> String {
    let name = name.trim();
    name.strip_prefix('`')
        .and_then(|name| name.strip_suffix('`'))
        .unwrap_or(name)
        .to_string()
}

pub fn parse_columns(value: &str) -> Result<Vec<ColumnMapping>, LoadError> {
    let mut mappings = Vec::new();
    for item in split_top_level(value) {
        let item = item.trim();
        if item.is_empty() {
            return Err(invalid("columns", value, "an empty column name"));
        }
        // `=` that is not part of `<=`, `>=`, `!=` or `==` separates name and expression.
        let split = item.char_indices().find(|&(index, character)| {
            character == '='
                && !matches!(item[..index].chars().last(), Some('<' | '>' | '!' | '='))
                && !item[index + 1..].starts_with('=')
        });
        match split {
            Some((index, _)) => {
                let name = unquote_identifier(&item[..index]);
                let expression = item[index + 1..].trim().to_string();
                if name.is_empty() || expression.is_empty() {
                    return Err(invalid("columns", value, &format!("'{item}' needs a name and an expression")));
                }
                mappings.push(ColumnMapping::Derived { name, expression });
            }
            None => {
                let name = unquote_identifier(item);
                if name.contains(|character: char| character.is_whitespace() || "()+-*/".contains(character)) {
                    return Err(invalid("columns", value, &format!("'{item}' is not a column name")));
                }
                mappings.push(ColumnMapping::Source(name));
            }
        }
    }
    Ok(mappings)
}

impl LoadOptions {
    /// Options from named parameters: Stream Load's HTTP headers or Routine Load's
    /// properties. Names are case-insensitive; parameters the load does not know are ignored,
    /// since a request carries many unrelated HTTP headers.
    pub fn from_parameters<'a>(parameters: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, LoadError> {
        let mut options = LoadOptions::default();
        let mut json_paths = None;
        let mut json_root = None;
        for (name, value) in parameters {
            let name = name.to_ascii_lowercase();
            match name.as_str() {
                "format" => {
                    options.format = match value.trim().to_ascii_lowercase().as_str() {
                        "csv" => LoadFormat::Csv,
                        "json" => LoadFormat::Json,
                        _ => return Err(invalid("format", value, "supported formats are CSV and JSON")),
                    }
                }
                "column_separator" => options.csv.column_separator = parse_separator(&name, value)?,
                "row_delimiter" => options.csv.row_delimiter = parse_separator(&name, value)?,
                "skip_header" => {
                    options.csv.skip_header =
                        value.trim().parse().map_err(|_| invalid(&name, value, "expected a number of lines"))?
                }
                "trim_space" => options.csv.trim_space = parse_bool(&name, value)?,
                "enclose" => options.csv.enclose = parse_single_byte(&name, value)?,
                "escape" => options.csv.escape = parse_single_byte(&name, value)?,
                "columns" => options.columns = Some(parse_columns(value)?),
                "where" => {
                    if !value.trim().is_empty() {
                        options.where_clause = Some(value.trim().to_string());
                    }
                }
                "max_filter_ratio" => {
                    let ratio: f64 = value
                        .trim()
                        .parse()
                        .map_err(|_| invalid(&name, value, "expected a number from 0 to 1"))?;
                    if !(0.0..=1.0).contains(&ratio) {
                        return Err(invalid(&name, value, "expected a number from 0 to 1"));
                    }
                    options.max_filter_ratio = ratio;
                }
                "timeout" => {
                    let seconds: u64 = value
                        .trim()
                        .parse()
                        .map_err(|_| invalid(&name, value, "expected a number of seconds"))?;
                    if seconds == 0 || seconds > 259_200 {
                        return Err(invalid(&name, value, "it must be between 1 and 259200 seconds"));
                    }
                    options.timeout = Duration::from_secs(seconds);
                }
                "strict_mode" => options.strict_mode = parse_bool(&name, value)?,
                "timezone" | "time_zone" => {
                    cairn_functions::normalize_time_zone(value.trim())
                        .map_err(|_| invalid(&name, value, "unknown time zone"))?;
                    options.timezone = value.trim().to_string();
                }
                "partitions" | "temporary_partitions" => {
                    let names: Vec<String> = value
                        .split(',')
                        .map(|name| unquote_identifier(name))
                        .filter(|name| !name.is_empty())
                        .collect();
                    if names.is_empty() {
                        return Err(invalid(&name, value, "expected partition names"));
                    }
                    options.partitions = Some(names);
                }
                "jsonpaths" => json_paths = Some(value.to_string()),
                "json_root" => json_root = Some(value.to_string()),
                "strip_outer_array" => options.json.strip_outer_array = parse_bool(&name, value)?,
                "compression" => {
                    options.compression = match value.trim().to_ascii_lowercase().as_str() {
                        "" | "none" | "plain" => Compression::None,
                        "gz" | "gzip" => Compression::Gzip,
                        "deflate" => Compression::Deflate,
                        "lz4" | "lz4_frame" => Compression::Lz4Frame,
                        "zstd" => Compression::Zstd,
                        _ => return Err(invalid(&name, value, "supported are GZIP, DEFLATE, LZ4_FRAME and ZSTD")),
                    }
                }
                "partial_update" => options.partial_update = parse_bool(&name, value)?,
                _ => {}
            }
        }
        if let Some(text) = json_paths {
            let paths: Vec<String> = serde_json::from_str(&text).map_err(|error| {
                invalid("jsonpaths", &text, &format!("expected a JSON array of paths ({error})"))
            })?;
            options.json.json_paths = Some(paths.iter().map(|path| parse_json_path(path)).collect::<Result<_, _>>()?);
        }
        if let Some(text) = json_root.filter(|text| !text.trim().is_empty()) {
            options.json.json_root = Some(parse_json_path(&text)?);
        }
        if options.format == LoadFormat::Csv && options.csv.column_separator == options.csv.row_delimiter {
            return Err(LoadError::InvalidParameter(
                "column_separator and row_delimiter must differ".to_string(),
            ));
        }
        Ok(options)
    }

    /// Content-Encoding applies when no `compression` header chose.
    pub fn apply_content_encoding(&mut self, encoding: &str) -> Result<(), LoadError> {
        if self.compression != Compression::None {
            return Ok(());
        }
        self.compression = match encoding.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Compression::None,
            "gzip" | "x-gzip" => Compression::Gzip,
            "deflate" => Compression::Deflate,
            "zstd" => Compression::Zstd,
            "lz4" => Compression::Lz4Frame,
            other => {
                return Err(LoadError::InvalidParameter(format!(
                    "Unsupported Content-Encoding '{other}'; supported are gzip, deflate, zstd and lz4"
                )));
            }
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_in_every_spelling() {
        assert_eq!(parse_separator("s", "\\x01").ok(), Some(vec![1]));
        assert_eq!(parse_separator("s", "\\x0102").ok(), Some(vec![1, 2]));
        assert_eq!(parse_separator("s", "\\x01\\x02").ok(), Some(vec![1, 2]));
        assert_eq!(parse_separator("s", "a\\x7cb").ok(), Some(b"a|b".to_vec()));
        assert_eq!(parse_separator("s", "\\t").ok(), Some(vec![b'\t']));
        assert_eq!(parse_separator("s", "||").ok(), Some(b"||".to_vec()));
        assert!(parse_separator("s", "\\x1").is_err());
        assert!(parse_separator("s", "\\xZZ").is_err());
        assert!(parse_separator("s", "").is_err());
    }

    #[test]
    fn columns_with_expressions() {
        let columns = parse_columns("a, tmp, b = tmp * 100, c=if(tmp >= 1, 'x,y', 'z')").ok();
        assert_eq!(
            columns,
            Some(vec![
                ColumnMapping::Source("a".into()),
                ColumnMapping::Source("tmp".into()),
                ColumnMapping::Derived {
                    name: "b".into(),
                    expression: "tmp * 100".into()
                },
                ColumnMapping::Derived {
                    name: "c".into(),
                    expression: "if(tmp >= 1, 'x,y', 'z')".into()
                },
            ])
        );
        assert!(parse_columns("a,,b").is_err());
        assert!(parse_columns("a b").is_err());
    }

    #[test]
    fn json_paths() {
        let path = parse_json_path("$.a.b[2][\"c d\"]").ok();
        assert_eq!(
            path.map(|path| path.steps),
            Some(vec![
                JsonStep::Key("a".into()),
                JsonStep::Key("b".into()),
                JsonStep::Index(2),
                JsonStep::Key("c d".into())
            ])
        );
        assert!(parse_json_path("a.b").is_err());
        assert!(parse_json_path("$.a[").is_err());
    }

    #[test]
    fn headers_are_checked() {
        let options = LoadOptions::from_parameters([
            ("Format", "JSON"),
            ("max_filter_ratio", "0.2"),
            ("jsonpaths", "[\"$.k\", \"$.v\"]"),
            ("strip_outer_array", "true"),
            ("X-Unrelated", "whatever"),
        ]);
        let options = options.ok();
        assert!(options.as_ref().is_some_and(|options| options.format == LoadFormat::Json));
        assert!(options.as_ref().is_some_and(|options| options.max_filter_ratio == 0.2));
        assert!(LoadOptions::from_parameters([("max_filter_ratio", "2")]).is_err());
        assert!(LoadOptions::from_parameters([("timeout", "-1")]).is_err());
        assert!(LoadOptions::from_parameters([("strict_mode", "maybe")]).is_err());
        assert!(LoadOptions::from_parameters([("format", "parquet")]).is_err());
        assert!(LoadOptions::from_parameters([("jsonpaths", "$.a")]).is_err());
        assert!(LoadOptions::from_parameters([("timezone", "Mars/Base")]).is_err());
    }
}
