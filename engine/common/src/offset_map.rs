//! Serde for maps with integer keys (Kafka partition to offset) as a list of pairs.
//!
//! The FE journal's entries are an internally tagged enum. serde buffers such an entry before
//! it knows the variant, and JSON object keys then stay strings that an integer key can no
//! longer be read from. A list of `[key, value]` pairs reads back through any enum.
//! Use with `#[serde(with = "cairn_common::offset_map")]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub fn serialize<S: Serializer>(map: &BTreeMap<i32, i64>, serializer: S) -> Result<S::Ok, S::Error> {
    let pairs: Vec<(i32, i64)> = map.iter().map(|(key, value)| (*key, *value)).collect();
    pairs.serialize(serializer)
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<i32, i64>, D::Error> {
    let pairs = Vec::<(i32, i64)>::deserialize(deserializer)?;
    Ok(pairs.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind")]
    enum Entry {
        Progress {
            #[serde(with = "super")]
            offsets: BTreeMap<i32, i64>,
        },
    }

    #[test]
    fn round_trips_inside_an_internally_tagged_enum() {
        let entry = Entry::Progress {
            offsets: BTreeMap::from([(0, 5), (2, -2)]),
        };
        let text = serde_json::to_string(&entry).expect("serializes");
        assert_eq!(text, r#"{"kind":"Progress","offsets":[[0,5],[2,-2]]}"#);
        assert_eq!(serde_json::from_str::<Entry>(&text).expect("deserializes"), entry);
    }
}
