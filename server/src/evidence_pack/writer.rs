//! A zip written as a stream: each file's bytes are compressed, hashed and handed to the
//! response as they come, so a pack of any size holds a page of rows in memory.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

use super::manifest::PackFile;

/// What the zip writer has produced and the response has not taken yet.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<Vec<u8>>>);

impl Pending {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for Pending {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why writing stopped.
#[derive(Debug, thiserror::Error)]
pub enum Stopped {
    #[error("the download was abandoned")]
    Abandoned,
    #[error("the zip could not be written: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("the zip could not be written: {0}")]
    Io(#[from] std::io::Error),
}

pub type Chunks = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// The file being written: its name, hash so far and size.
struct Open {
    name: String,
    hash: Sha256,
    bytes: u64,
}

pub struct PackWriter {
    zip: ZipWriter<StreamWriter<Pending>>,
    pending: Pending,
    out: Chunks,
    open: Option<Open>,
    files: Vec<PackFile>,
}

/// Fast deflate: a pack is mostly CSV, which compresses well at level 1, and the stream's
/// speed matters more than the last few percent of size.
fn options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true)
}

impl PackWriter {
    pub fn new(out: Chunks) -> Self {
        let pending = Pending::default();
        Self {
            zip: ZipWriter::new_stream(pending.clone()),
            pending,
            out,
            open: None,
            files: Vec::new(),
        }
    }

    /// Closes the file being written (recording its hash) and opens `name`.
    pub fn start(&mut self, name: &str) -> Result<(), Stopped> {
        self.close_file();
        self.zip.start_file(name, options())?;
        self.open = Some(Open {
            name: name.into(),
            hash: Sha256::new(),
            bytes: 0,
        });
        Ok(())
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Stopped> {
        if let Some(open) = &mut self.open {
            open.hash.update(bytes);
            open.bytes += bytes.len() as u64;
        }
        self.zip.write_all(bytes)?;
        Ok(())
    }

    /// Hands what is compressed so far to the response, waiting while it is behind.
    pub async fn send(&mut self) -> Result<(), Stopped> {
        let bytes = self.pending.take();
        if bytes.is_empty() {
            return Ok(());
        }
        self.out
            .send(Ok(Bytes::from(bytes)))
            .await
            .map_err(|_| Stopped::Abandoned)
    }

    /// The files written so far (the open one once closed), with their hashes.
    pub fn files(&mut self) -> &[PackFile] {
        self.close_file();
        &self.files
    }

    fn close_file(&mut self) {
        if let Some(open) = self.open.take() {
            self.files.push(PackFile {
                name: open.name,
                sha256: hex::encode(open.hash.finalize()),
                bytes: open.bytes,
            });
        }
    }

    /// Writes the central directory and sends the rest.
    pub async fn finish(mut self) -> Result<(), Stopped> {
        self.close_file();
        self.zip.finish()?;
        let rest = self.pending.take();
        self.out
            .send(Ok(Bytes::from(rest)))
            .await
            .map_err(|_| Stopped::Abandoned)
    }
}
