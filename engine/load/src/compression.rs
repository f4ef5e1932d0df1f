//! Bodies sent compressed (`compression` header or `Content-Encoding`), inflated with a cap so
//! that a small body can not expand without bound.

use std::io::Read;

use crate::error::LoadError;
use crate::options::Compression;

pub fn decompress(body: Vec<u8>, compression: Compression, limit_bytes: u64) -> Result<Vec<u8>, LoadError> {
    let (format, reader): (&'static str, Box<dyn Read + '_>) = match compression {
        Compression::None => {
            if body.len() as u64 > limit_bytes {
                return Err(LoadError::BodyTooLarge { limit_bytes });
            }
            return Ok(body);
        }
        Compression::Gzip => ("GZIP", Box::new(flate2::read::MultiGzDecoder::new(body.as_slice()))),
        Compression::Deflate => ("DEFLATE", Box::new(flate2::read::ZlibDecoder::new(body.as_slice()))),
        Compression::Lz4Frame => ("LZ4_FRAME", Box::new(lz4_flex::frame::FrameDecoder::new(body.as_slice()))),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(body.as_slice()).map_err(|error| LoadError::Decompress {
                format: "ZSTD",
                reason: error.to_string(),
            })?;
            ("ZSTD", Box::new(decoder))
        }
    };
    let mut output = Vec::with_capacity(body.len().saturating_mul(4));
    // One byte past the limit tells an oversized body from one exactly at it.
    reader
        .take(limit_bytes.saturating_add(1))
        .read_to_end(&mut output)
        .map_err(|error| LoadError::Decompress {
            format,
            reason: error.to_string(),
        })?;
    if output.len() as u64 > limit_bytes {
        return Err(LoadError::BodyTooLarge { limit_bytes });
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"1,a\n2,b\n3,c\n";

    #[test]
    fn every_format_round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(TEXT)?;
        assert_eq!(decompress(gzip.finish()?, Compression::Gzip, 1 << 20)?, TEXT);

        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(TEXT)?;
        assert_eq!(decompress(zlib.finish()?, Compression::Deflate, 1 << 20)?, TEXT);

        let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz4.write_all(TEXT)?;
        assert_eq!(decompress(lz4.finish()?, Compression::Lz4Frame, 1 << 20)?, TEXT);

        let zstd = zstd::stream::encode_all(TEXT, 3)?;
        assert_eq!(decompress(zstd, Compression::Zstd, 1 << 20)?, TEXT);
        Ok(())
    }

    #[test]
    fn garbage_and_bombs_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        assert!(matches!(
            decompress(b"not gzip".to_vec(), Compression::Gzip, 1 << 20),
            Err(LoadError::Decompress { .. })
        ));
        let zeros = zstd::stream::encode_all(vec![0u8; 1 << 20].as_slice(), 3)?;
        assert!(matches!(
            decompress(zeros, Compression::Zstd, 1000),
            Err(LoadError::BodyTooLarge { .. })
        ));
        Ok(())
    }
}
