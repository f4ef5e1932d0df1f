//! Packet framing (3-byte length, 1-byte sequence id, payloads of 16 MiB and more split over
//! several packets) and the little-endian and length-encoded primitives inside payloads.
//!
//! [`PacketStream`] is generic over the byte stream so a TLS stream can replace the TCP stream
//! after an SSL request without touching the command code.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::error::ProtocolError;
use crate::session::ErrorPacket;

/// The largest payload one packet carries; a payload of exactly this length continues in the
/// next packet.
pub(crate) const MAX_PAYLOAD_LENGTH: usize = 0xFF_FFFF;

/// Buffered output is written once it grows past this, so large results stream at a steady
/// pace while small ones go out in one write.
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// An oversized packet is read and thrown away, so the error reply is not lost to a TCP reset,
/// but only up to this much and for this long.
const OVERSIZED_DISCARD_LIMIT: u64 = 1 << 30;
const OVERSIZED_DISCARD_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct PacketStream<S> {
    stream: BufReader<S>,
    write_buffer: Vec<u8>,
    /// Start of the packet being built in `write_buffer`, at its 4-byte header.
    open_packet: Option<usize>,
    sequence: u8,
    max_allowed_packet: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> PacketStream<S> {
    pub(crate) fn new(stream: S, max_allowed_packet: usize) -> PacketStream<S> {
        PacketStream {
            stream: BufReader::new(stream),
            write_buffer: Vec::with_capacity(FLUSH_THRESHOLD + 1024),
            open_packet: None,
            sequence: 0,
            max_allowed_packet,
        }
    }

    /// Each command starts a new sequence at 0.
    pub(crate) fn reset_sequence(&mut self) {
        self.sequence = 0;
    }

    /// Reads one logical packet, joining continuation packets.
    pub(crate) async fn read_packet(&mut self) -> Result<Vec<u8>, ProtocolError> {
        let mut payload = Vec::new();
        let mut first = true;
        loop {
            let mut header = [0u8; 4];
            match self.stream.read_exact(&mut header).await {
                Ok(_) => {}
                Err(error) if first && error.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(ProtocolError::Closed);
                }
                Err(error) => return Err(error.into()),
            }
            first = false;
            let length =
                usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
            let received = header[3];
            if received != self.sequence {
                return Err(ProtocolError::OutOfOrder {
                    expected: self.sequence,
                    received,
                });
            }
            self.sequence = self.sequence.wrapping_add(1);
            let size = payload.len() + length;
            if size > self.max_allowed_packet {
                self.discard_oversized(length).await;
                return Err(ProtocolError::PacketTooLarge {
                    size,
                    limit: self.max_allowed_packet,
                });
            }
            // Grow with the bytes that actually arrive rather than with the announced length,
            // so an unauthenticated client cannot make us allocate by merely announcing.
            payload.reserve(length.min(FLUSH_THRESHOLD));
            let received = (&mut self.stream)
                .take(length as u64)
                .read_to_end(&mut payload)
                .await?;
            if received < length {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
            if length < MAX_PAYLOAD_LENGTH {
                return Ok(payload);
            }
        }
    }

    /// Reads the rest of an oversized packet and its continuations, keeping the sequence id in
    /// step, so the client reads our error instead of a connection reset.
    async fn discard_oversized(&mut self, mut length: usize) {
        let discard = async {
            let mut discarded = 0u64;
            loop {
                let wanted = length as u64;
                let copied =
                    tokio::io::copy(&mut (&mut self.stream).take(wanted), &mut tokio::io::sink())
                        .await?;
                discarded += copied;
                if copied < wanted || length < MAX_PAYLOAD_LENGTH {
                    return Ok::<(), std::io::Error>(());
                }
                if discarded > OVERSIZED_DISCARD_LIMIT {
                    return Ok(());
                }
                let mut header = [0u8; 4];
                self.stream.read_exact(&mut header).await?;
                length = usize::from(header[0])
                    | usize::from(header[1]) << 8
                    | usize::from(header[2]) << 16;
                self.sequence = header[3].wrapping_add(1);
            }
        };
        if let Ok(Err(error)) = tokio::time::timeout(OVERSIZED_DISCARD_TIMEOUT, discard).await {
            tracing::debug!(%error, "failed to discard an oversized packet");
        }
    }

    /// Starts a packet; the caller appends its payload to the returned buffer and then calls
    /// [`PacketStream::finish_packet`].
    pub(crate) fn begin_packet(&mut self) -> &mut Vec<u8> {
        self.open_packet = Some(self.write_buffer.len());
        self.write_buffer.extend_from_slice(&[0, 0, 0, 0]);
        &mut self.write_buffer
    }

    /// Frames the packet started by [`PacketStream::begin_packet`], and writes buffered output
    /// once there is enough of it.
    pub(crate) async fn finish_packet(&mut self) -> Result<(), ProtocolError> {
        self.end_packet();
        self.flush_if_full().await
    }

    /// Frames the packet started by [`PacketStream::begin_packet`] without writing anything.
    pub(crate) fn end_packet(&mut self) {
        let Some(start) = self.open_packet.take() else {
            return;
        };
        let length = self.write_buffer.len() - start - 4;
        if length < MAX_PAYLOAD_LENGTH {
            self.write_buffer[start..start + 4].copy_from_slice(&header(length, self.sequence));
            self.sequence = self.sequence.wrapping_add(1);
            return;
        }
        // Rare: split into 16 MiB packets, ending with a shorter (maybe empty) one.
        let payload = self.write_buffer.split_off(start + 4);
        self.write_buffer.truncate(start);
        let mut chunks = payload.chunks(MAX_PAYLOAD_LENGTH);
        loop {
            let chunk = chunks.next().unwrap_or(&[]);
            self.write_buffer
                .extend_from_slice(&header(chunk.len(), self.sequence));
            self.write_buffer.extend_from_slice(chunk);
            self.sequence = self.sequence.wrapping_add(1);
            if chunk.len() < MAX_PAYLOAD_LENGTH {
                break;
            }
        }
    }

    /// Whether enough output is buffered that it should be written now.
    pub(crate) fn is_full(&self) -> bool {
        self.write_buffer.len() >= FLUSH_THRESHOLD
    }

    pub(crate) async fn flush_if_full(&mut self) -> Result<(), ProtocolError> {
        if self.is_full() {
            self.flush().await?;
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) async fn write_packet(&mut self, payload: &[u8]) -> Result<(), ProtocolError> {
        self.begin_packet().extend_from_slice(payload);
        self.finish_packet().await
    }

    pub(crate) async fn write_error(&mut self, error: &ErrorPacket) -> Result<(), ProtocolError> {
        put_error_packet(self.begin_packet(), error, true);
        self.finish_packet().await
    }

    pub(crate) async fn flush(&mut self) -> Result<(), ProtocolError> {
        if !self.write_buffer.is_empty() {
            self.stream.write_all(&self.write_buffer).await?;
            self.write_buffer.clear();
        }
        self.stream.flush().await?;
        Ok(())
    }

    /// Flushes and closes the sending side; errors are moot as the connection is ending.
    pub(crate) async fn shutdown(&mut self) {
        if self.flush().await.is_ok() {
            let _ = self.stream.shutdown().await;
        }
    }
}

fn header(length: usize, sequence: u8) -> [u8; 4] {
    [
        (length & 0xFF) as u8,
        (length >> 8 & 0xFF) as u8,
        (length >> 16 & 0xFF) as u8,
        sequence,
    ]
}

/// ERR packet. Before the client's capabilities are known (a refusal in place of the
/// handshake) there is no SQL state marker, as in MySQL.
pub(crate) fn put_error_packet(buffer: &mut Vec<u8>, error: &ErrorPacket, with_sql_state: bool) {
    buffer.push(0xFF);
    put_u16(buffer, error.code);
    if with_sql_state {
        buffer.push(b'#');
        let mut state = [b'H', b'Y', b'0', b'0', b'0'];
        for (slot, byte) in state.iter_mut().zip(error.sql_state.bytes()) {
            *slot = byte;
        }
        buffer.extend_from_slice(&state);
    }
    buffer.extend_from_slice(error.message.as_bytes());
}

pub(crate) fn put_u16(buffer: &mut Vec<u8>, value: u16) {
    buffer.extend_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_u32(buffer: &mut Vec<u8>, value: u32) {
    buffer.extend_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_lenenc_int(buffer: &mut Vec<u8>, value: u64) {
    if value < 251 {
        buffer.push(value as u8);
    } else if value < 1 << 16 {
        buffer.push(0xFC);
        buffer.extend_from_slice(&(value as u16).to_le_bytes());
    } else if value < 1 << 24 {
        buffer.push(0xFD);
        buffer.extend_from_slice(&(value as u32).to_le_bytes()[..3]);
    } else {
        buffer.push(0xFE);
        buffer.extend_from_slice(&value.to_le_bytes());
    }
}

pub(crate) fn put_lenenc_bytes(buffer: &mut Vec<u8>, bytes: &[u8]) {
    put_lenenc_int(buffer, bytes.len() as u64);
    buffer.extend_from_slice(bytes);
}

pub(crate) fn put_null_terminated(buffer: &mut Vec<u8>, bytes: &[u8]) {
    buffer.extend_from_slice(bytes);
    buffer.push(0);
}

/// Reads the fields of one payload; running past the end is a malformed packet, never a panic.
pub(crate) struct PayloadReader<'a> {
    data: &'a [u8],
    position: usize,
    what: &'static str,
}

impl<'a> PayloadReader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> PayloadReader<'a> {
        PayloadReader {
            data,
            position: 0,
            what,
        }
    }

    pub(crate) fn malformed(&self, reason: &'static str) -> ProtocolError {
        ProtocolError::Malformed {
            what: self.what,
            reason,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.position
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn bytes(&mut self, count: usize) -> Result<&'a [u8], ProtocolError> {
        let end = self
            .position
            .checked_add(count)
            .filter(|end| *end <= self.data.len())
            .ok_or_else(|| self.malformed("truncated"))?;
        let bytes = &self.data[self.position..end];
        self.position = end;
        Ok(bytes)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let bytes = self.bytes(N)?;
        let mut array = [0u8; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, ProtocolError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ProtocolError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, ProtocolError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn lenenc_int(&mut self) -> Result<u64, ProtocolError> {
        match self.u8()? {
            first @ 0..=250 => Ok(u64::from(first)),
            0xFC => Ok(u64::from(self.u16()?)),
            0xFD => {
                let bytes = self.array::<3>()?;
                Ok(u64::from(bytes[0]) | u64::from(bytes[1]) << 8 | u64::from(bytes[2]) << 16)
            }
            0xFE => self.u64(),
            _ => Err(self.malformed("invalid length-encoded integer")),
        }
    }

    pub(crate) fn lenenc_bytes(&mut self) -> Result<&'a [u8], ProtocolError> {
        let length = self.lenenc_int()?;
        let length = usize::try_from(length).map_err(|_| self.malformed("length too large"))?;
        self.bytes(length)
    }

    pub(crate) fn null_terminated(&mut self) -> Result<&'a [u8], ProtocolError> {
        let rest = &self.data[self.position..];
        let end = rest
            .iter()
            .position(|byte| *byte == 0)
            .ok_or_else(|| self.malformed("missing string terminator"))?;
        self.position += end + 1;
        Ok(&rest[..end])
    }

    /// A NUL-terminated string, or the rest of the payload when the terminator is missing
    /// (some clients omit it on the last field).
    pub(crate) fn null_terminated_or_rest(&mut self) -> &'a [u8] {
        match self.null_terminated() {
            Ok(bytes) => bytes,
            Err(_) => self.rest(),
        }
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = &self.data[self.position..];
        self.position = self.data.len();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_int_round_trips_at_every_width() {
        for value in [
            0u64,
            1,
            250,
            251,
            0xFFFF,
            0x1_0000,
            0xFF_FFFF,
            0x100_0000,
            u64::MAX,
        ] {
            let mut buffer = Vec::new();
            put_lenenc_int(&mut buffer, value);
            let expected_length = match value {
                0..=250 => 1,
                251..=0xFFFF => 3,
                0x1_0000..=0xFF_FFFF => 4,
                _ => 9,
            };
            assert_eq!(buffer.len(), expected_length, "width of {value}");
            let mut reader = PayloadReader::new(&buffer, "test");
            assert_eq!(reader.lenenc_int().ok(), Some(value));
            assert!(reader.is_empty());
        }
        assert_eq!(
            {
                let mut buffer = Vec::new();
                put_lenenc_int(&mut buffer, 0x1234);
                buffer
            },
            vec![0xFC, 0x34, 0x12]
        );
    }

    #[test]
    fn reader_reports_truncation_instead_of_panicking() {
        let mut reader = PayloadReader::new(&[0xFD, 1], "test");
        assert!(matches!(
            reader.lenenc_int(),
            Err(ProtocolError::Malformed { .. })
        ));
        let mut reader = PayloadReader::new(&[0xFB], "test");
        assert!(reader.lenenc_int().is_err());
        let mut reader = PayloadReader::new(
            &[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            "test",
        );
        assert!(reader.lenenc_bytes().is_err());
        let mut reader = PayloadReader::new(b"abc", "test");
        assert!(reader.null_terminated().is_err());
        assert_eq!(reader.null_terminated_or_rest(), b"abc");
        assert!(reader.u32().is_err());
    }

    async fn round_trip(
        payload: Vec<u8>,
        max_allowed_packet: usize,
    ) -> Result<Vec<u8>, ProtocolError> {
        let (client, server) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(async move {
            let mut stream = PacketStream::new(client, usize::MAX);
            stream.write_packet(&payload).await?;
            stream.flush().await?;
            // Keep the pipe open until the reader is done.
            let mut rest = Vec::new();
            let _ = stream.stream.read_to_end(&mut rest).await;
            Ok::<(), ProtocolError>(())
        });
        let mut stream = PacketStream::new(server, max_allowed_packet);
        let result = stream.read_packet().await;
        stream.shutdown().await;
        drop(stream);
        let _ = writer.await;
        result
    }

    #[tokio::test]
    async fn frames_small_and_multi_packet_payloads() -> Result<(), ProtocolError> {
        let small = b"\x03select 1".to_vec();
        assert_eq!(round_trip(small.clone(), 1 << 20).await?, small);
        for length in [
            MAX_PAYLOAD_LENGTH - 1,
            MAX_PAYLOAD_LENGTH,
            MAX_PAYLOAD_LENGTH + 10,
            2 * MAX_PAYLOAD_LENGTH,
        ] {
            let payload: Vec<u8> = (0..length).map(|index| (index % 251) as u8).collect();
            let received = round_trip(payload.clone(), 64 << 20).await?;
            assert_eq!(received.len(), payload.len());
            assert!(received == payload, "payload of {length} bytes differs");
        }
        Ok(())
    }

    #[tokio::test]
    async fn writer_splits_at_sixteen_mebibytes() -> Result<(), ProtocolError> {
        let (client, mut server) = tokio::io::duplex(64 << 20);
        let mut stream = PacketStream::new(client, usize::MAX);
        stream.write_packet(&vec![7u8; MAX_PAYLOAD_LENGTH]).await?;
        stream.write_packet(b"x").await?;
        stream.flush().await?;
        drop(stream);
        let mut bytes = Vec::new();
        server.read_to_end(&mut bytes).await?;
        assert_eq!(bytes.len(), 4 + MAX_PAYLOAD_LENGTH + 4 + 4 + 1);
        assert_eq!(&bytes[..4], &[0xFF, 0xFF, 0xFF, 0]);
        // The empty packet that ends a payload of exactly 16 MiB - 1, then the next packet.
        let empty = 4 + MAX_PAYLOAD_LENGTH;
        assert_eq!(&bytes[empty..empty + 4], &[0, 0, 0, 1]);
        assert_eq!(&bytes[empty + 4..], &[1, 0, 0, 2, b'x']);
        Ok(())
    }

    #[tokio::test]
    async fn rejects_oversized_and_out_of_order_packets() {
        let result = round_trip(vec![1u8; 2000], 1000).await;
        assert!(matches!(
            result,
            Err(ProtocolError::PacketTooLarge {
                size: 2000,
                limit: 1000
            })
        ));
        let (mut client, server) = tokio::io::duplex(1024);
        let mut stream = PacketStream::new(server, 1024);
        let _ = client.write_all(&[1, 0, 0, 5, 0x0E]).await;
        assert!(matches!(
            stream.read_packet().await,
            Err(ProtocolError::OutOfOrder {
                expected: 0,
                received: 5
            })
        ));
        drop(client);
        let (client, server) = tokio::io::duplex(1024);
        drop(client);
        let mut stream = PacketStream::new(server, 1024);
        assert!(matches!(
            stream.read_packet().await,
            Err(ProtocolError::Closed)
        ));
    }
}
