import { gzipSync } from 'node:zlib'
import type { Compression } from '#shared/types/formats'

const BOM = Buffer.from([0xef, 0xbb, 0xbf])

/**
 * The bytes that put a UTF-8 byte order mark before a file DuckDB wrote (its CSV writer has no BOM
 * option). A compressed file gets the BOM inside the compressed stream, as its own first member
 * or frame: gzip (RFC 1952 §2.2) and zstd (RFC 8878 §3.1) files may hold several, and readers
 * decompress them as one stream.
 */
export function bomPrefix(compression: Compression): Buffer {
  if (compression === 'gzip') return gzipSync(BOM)
  if (compression === 'zstd') return ZSTD_BOM_FRAME
  return BOM
}

// Node 20's zlib has no zstd, so the frame is built by hand: one raw (stored) block of 3 bytes.
const ZSTD_BOM_FRAME = Buffer.from([
  0x28, 0xb5, 0x2f, 0xfd, // magic number
  0x20, // frame header descriptor: single segment, 1-byte content size, no checksum, no dictionary
  0x03, // frame content size: 3
  0x19, 0x00, 0x00, // block header: last block, raw, size 3 (1 | 0 << 1 | 3 << 3)
  ...BOM
])
