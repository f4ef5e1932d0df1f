//! Writing responses: OK, EOF (or OK-as-EOF with CLIENT_DEPRECATE_EOF), column definitions
//! and rows in the text or binary format, streamed from the session's record batches.

use arrow::array::ArrayRef;
use arrow::record_batch::RecordBatch;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::column::Column;
use crate::error::ProtocolError;
use crate::handshake::capability;
use crate::packet::{PacketStream, put_lenenc_int, put_u16};
use crate::session::{ErrorPacket, QueryResponse, StatusFlags};
use crate::value::{
    Cell, ColumnValues, ValueFormat, expand_dictionary, put_binary_cell, put_text_cell,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowFormat {
    /// COM_QUERY: every value a length-encoded string.
    Text,
    /// COM_STMT_EXECUTE: null bitmap and typed values.
    Binary,
}

/// Response-writing context of one connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseContext {
    pub(crate) capabilities: u32,
    pub(crate) status: StatusFlags,
}

impl ResponseContext {
    fn deprecate_eof(&self) -> bool {
        self.capabilities & capability::DEPRECATE_EOF != 0
    }
}

pub(crate) fn put_ok_packet(
    buffer: &mut Vec<u8>,
    header: u8,
    affected_rows: u64,
    last_insert_id: u64,
    status: StatusFlags,
    warnings: u16,
    info: &str,
) {
    buffer.push(header);
    put_lenenc_int(buffer, affected_rows);
    put_lenenc_int(buffer, last_insert_id);
    put_u16(buffer, status.bits());
    put_u16(buffer, warnings);
    // MySQL's server writes the message length-encoded (net_store_data) even without
    // CLIENT_SESSION_TRACK, and libmysqlclient and MariaDB's client read it that way.
    if !info.is_empty() {
        put_lenenc_int(buffer, info.len() as u64);
        buffer.extend_from_slice(info.as_bytes());
    }
}

pub(crate) async fn write_ok<S: AsyncRead + AsyncWrite + Unpin>(
    packets: &mut PacketStream<S>,
    status: StatusFlags,
) -> Result<(), ProtocolError> {
    put_ok_packet(packets.begin_packet(), 0x00, 0, 0, status, 0, "");
    packets.finish_packet().await
}

/// The end of rows: an EOF packet, or with CLIENT_DEPRECATE_EOF an OK packet with the EOF
/// header.
async fn write_end_of_rows<S: AsyncRead + AsyncWrite + Unpin>(
    packets: &mut PacketStream<S>,
    context: ResponseContext,
) -> Result<(), ProtocolError> {
    let buffer = packets.begin_packet();
    if context.deprecate_eof() {
        put_ok_packet(buffer, 0xFE, 0, 0, context.status, 0, "");
    } else {
        put_eof_packet(buffer, context.status);
    }
    packets.finish_packet().await
}

fn put_eof_packet(buffer: &mut Vec<u8>, status: StatusFlags) {
    buffer.push(0xFE);
    put_u16(buffer, 0);
    put_u16(buffer, status.bits());
}

/// Column definitions, then the EOF that clients without CLIENT_DEPRECATE_EOF expect.
pub(crate) async fn write_column_definitions<S: AsyncRead + AsyncWrite + Unpin>(
    packets: &mut PacketStream<S>,
    columns: &[Column],
    context: ResponseContext,
) -> Result<(), ProtocolError> {
    for column in columns {
        column.put_definition(packets.begin_packet());
        packets.finish_packet().await?;
    }
    if !context.deprecate_eof() {
        put_eof_packet(packets.begin_packet(), context.status);
        packets.finish_packet().await?;
    }
    Ok(())
}

/// COM_FIELD_LIST's answer: definitions and always a terminator.
pub(crate) async fn write_field_list<S: AsyncRead + AsyncWrite + Unpin>(
    packets: &mut PacketStream<S>,
    columns: &[Column],
    context: ResponseContext,
) -> Result<(), ProtocolError> {
    for column in columns {
        column.put_definition(packets.begin_packet());
        packets.finish_packet().await?;
    }
    write_end_of_rows(packets, context).await
}

/// Writes a session's answer and flushes it.
pub(crate) async fn write_query_response<S: AsyncRead + AsyncWrite + Unpin>(
    packets: &mut PacketStream<S>,
    response: QueryResponse,
    format: RowFormat,
    context: ResponseContext,
) -> Result<(), ProtocolError> {
    match response {
        QueryResponse::Ok {
            affected_rows,
            last_insert_id,
            info,
            warnings,
        } => {
            put_ok_packet(
                packets.begin_packet(),
                0x00,
                affected_rows,
                last_insert_id,
                context.status,
                warnings,
                &info,
            );
            packets.finish_packet().await?;
        }
        QueryResponse::ResultSet { columns, batches } => {
            write_result_set(packets, &columns, batches, format, context).await?;
        }
    }
    packets.flush().await
}

async fn write_result_set<S: AsyncRead + AsyncWrite + Unpin>(
    packets: &mut PacketStream<S>,
    columns: &[Column],
    mut batches: BoxStream<'static, Result<RecordBatch, ErrorPacket>>,
    format: RowFormat,
    context: ResponseContext,
) -> Result<(), ProtocolError> {
    if columns.is_empty() {
        // A result set needs at least one column; nothing to show is an OK.
        return write_ok(packets, context.status).await;
    }
    put_lenenc_int(packets.begin_packet(), columns.len() as u64);
    packets.finish_packet().await?;
    write_column_definitions(packets, columns, context).await?;

    let formats: Vec<ValueFormat> = columns.iter().map(ValueFormat::of).collect();
    let mut scratch = Vec::new();
    while let Some(batch) = batches.next().await {
        let batch = match batch {
            Ok(batch) => batch,
            // An ERR in place of the final EOF ends the result set with that error.
            Err(error) => return packets.write_error(&error).await,
        };
        if batch.num_columns() != columns.len() {
            let error = ErrorPacket::new(
                1105,
                "HY000",
                format!(
                    "internal error: result batch has {} columns but {} were announced",
                    batch.num_columns(),
                    columns.len()
                ),
            );
            tracing::warn!(%error, "session returned a batch that does not match its columns");
            return packets.write_error(&error).await;
        }
        let arrays: Vec<ArrayRef> = batch.columns().iter().map(expand_dictionary).collect();
        let mut row = 0;
        while row < batch.num_rows() {
            row = encode_rows(packets, &arrays, &formats, format, row, &mut scratch);
            packets.flush_if_full().await?;
        }
    }
    write_end_of_rows(packets, context).await
}

/// Encodes rows from `first_row` until the output buffer is full, returning the next row.
/// Synchronous, so the borrowed views of the arrays never live across an await.
fn encode_rows<S: AsyncRead + AsyncWrite + Unpin>(
    packets: &mut PacketStream<S>,
    arrays: &[ArrayRef],
    formats: &[ValueFormat],
    format: RowFormat,
    first_row: usize,
    scratch: &mut Vec<u8>,
) -> usize {
    let values: Vec<ColumnValues<'_>> = arrays
        .iter()
        .map(|array| ColumnValues::new(array.as_ref()))
        .collect();
    let row_count = arrays.first().map_or(0, |array| array.len());
    let mut row = first_row;
    // At least one row per call, so a caller looping until the batch is done always advances.
    while row < row_count && (row == first_row || !packets.is_full()) {
        let buffer = packets.begin_packet();
        match format {
            RowFormat::Text => {
                for (column, format) in values.iter().zip(formats) {
                    put_text_cell(buffer, column.cell(row, scratch), *format);
                }
            }
            RowFormat::Binary => put_binary_row(buffer, &values, formats, row, scratch),
        }
        packets.end_packet();
        row += 1;
    }
    row
}

/// Binary row: 0x00, a null bitmap whose bits start at offset 2, then the non-null values.
fn put_binary_row(
    buffer: &mut Vec<u8>,
    values: &[ColumnValues<'_>],
    formats: &[ValueFormat],
    row: usize,
    scratch: &mut Vec<u8>,
) {
    buffer.push(0x00);
    let bitmap_start = buffer.len();
    buffer.extend(std::iter::repeat_n(0u8, (values.len() + 7 + 2) / 8));
    for (index, (column, format)) in values.iter().zip(formats).enumerate() {
        let cell = column.cell(row, scratch);
        if cell == Cell::Null {
            let bit = index + 2;
            buffer[bitmap_start + bit / 8] |= 1 << (bit % 8);
        } else {
            put_binary_cell(buffer, cell, *format);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::column::ColumnType;
    use crate::packet::put_lenenc_bytes;

    fn lenenc(text: &str) -> Vec<u8> {
        let mut buffer = Vec::new();
        put_lenenc_bytes(&mut buffer, text.as_bytes());
        buffer
    }

    async fn response_payloads(
        response: QueryResponse,
        format: RowFormat,
        capabilities: u32,
    ) -> Result<Vec<Vec<u8>>, ProtocolError> {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let mut packets = PacketStream::new(client, 1 << 20);
        let context = ResponseContext {
            capabilities,
            status: StatusFlags::AUTOCOMMIT,
        };
        write_query_response(&mut packets, response, format, context).await?;
        drop(packets);
        let mut bytes = Vec::new();
        server.read_to_end(&mut bytes).await?;
        let mut payloads = Vec::new();
        let mut position = 0;
        while position + 4 <= bytes.len() {
            let length = usize::from(bytes[position])
                | usize::from(bytes[position + 1]) << 8
                | usize::from(bytes[position + 2]) << 16;
            payloads.push(bytes[position + 4..position + 4 + length].to_vec());
            position += 4 + length;
        }
        Ok(payloads)
    }

    fn sample() -> QueryResponse {
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
        let names: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("bc")]));
        let batch = RecordBatch::try_from_iter([("id", ids), ("name", names)]);
        let columns = vec![
            Column::new("id", ColumnType::LongLong),
            Column::new("name", ColumnType::VarString),
        ];
        let batches = futures::stream::iter(batch.into_iter().map(Ok)).boxed();
        QueryResponse::ResultSet { columns, batches }
    }

    #[tokio::test]
    async fn text_result_set_with_eof_packets() -> Result<(), ProtocolError> {
        let payloads =
            response_payloads(sample(), RowFormat::Text, capability::PROTOCOL_41).await?;
        assert_eq!(payloads.len(), 7);
        assert_eq!(payloads[0], vec![2]);
        assert_eq!(payloads[3], vec![0xFE, 0, 0, 2, 0]);
        assert_eq!(payloads[4], [lenenc("1"), lenenc("a")].concat());
        assert_eq!(payloads[5], [vec![0xFB], lenenc("bc")].concat());
        assert_eq!(payloads[6], vec![0xFE, 0, 0, 2, 0]);
        Ok(())
    }

    #[tokio::test]
    async fn binary_result_set_with_deprecated_eof() -> Result<(), ProtocolError> {
        let capabilities = capability::PROTOCOL_41 | capability::DEPRECATE_EOF;
        let payloads = response_payloads(sample(), RowFormat::Binary, capabilities).await?;
        assert_eq!(payloads.len(), 6);
        let mut first_row = vec![0x00, 0x00];
        first_row.extend_from_slice(&1i64.to_le_bytes());
        first_row.extend_from_slice(&lenenc("a"));
        assert_eq!(payloads[3], first_row);
        // id is NULL: bit 2 of the bitmap.
        assert_eq!(payloads[4], [vec![0x00, 0b100], lenenc("bc")].concat());
        assert_eq!(payloads[5], vec![0xFE, 0, 0, 2, 0, 0, 0]);
        Ok(())
    }

    #[tokio::test]
    async fn stream_error_ends_result_set_with_error() -> Result<(), ProtocolError> {
        let columns = vec![Column::new("x", ColumnType::LongLong)];
        let batches =
            futures::stream::iter(vec![Err(ErrorPacket::new(1064, "42000", "boom"))]).boxed();
        let payloads = response_payloads(
            QueryResponse::ResultSet { columns, batches },
            RowFormat::Text,
            capability::PROTOCOL_41,
        )
        .await?;
        let last = payloads.last().cloned().unwrap_or_default();
        assert_eq!(last, b"\xFF\x28\x04#42000boom".to_vec());
        Ok(())
    }
}
