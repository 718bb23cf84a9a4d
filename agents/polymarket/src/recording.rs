//! Recordings of a venue's market channel: JSON Lines (gzip when the file name ends in `.gz`),
//! one object per line: `{"recv_ns":<u64>,"frame":"<frame text>"}` for a frame, or
//! `{"recv_ns":<u64>,"event":"connected"|"disconnected"}` for connection changes (a replay must
//! know that books went stale there). Written by `polyfleet record`, read by the simulator's
//! replay and by backtests.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Why a recording could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("line {0}: {1}")]
    Line(usize, serde_json::Error),
}

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordLine {
    /// Receive time, Unix nanoseconds.
    pub recv_ns: u64,
    /// The frame text, for data lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
    /// `connected` or `disconnected`, for connection lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// Opens a recording for writing (gzip when the name ends in `.gz`).
pub fn create(path: &Path) -> Result<Box<dyn Write + Send>, RecordingError> {
    let file = std::fs::File::create(path).map_err(|e| RecordingError::Io(path.display().to_string(), e))?;
    let buffered = std::io::BufWriter::new(file);
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::write::GzEncoder::new(buffered, flate2::Compression::fast()))
    } else {
        Box::new(buffered)
    })
}

/// Reads a recording (gzip or plain) line by line.
pub fn open(path: &Path) -> Result<impl Iterator<Item = Result<RecordLine, RecordingError>>, RecordingError> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| RecordingError::Io(path.display().to_string(), e))?;
    let reader: Box<dyn std::io::Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let name = path.display().to_string();
    Ok(std::io::BufReader::new(reader).lines().enumerate().map(move |(i, l)| {
        let l = l.map_err(|e| RecordingError::Io(name.clone(), e))?;
        serde_json::from_str(&l).map_err(|e| RecordingError::Line(i + 1, e))
    }))
}
