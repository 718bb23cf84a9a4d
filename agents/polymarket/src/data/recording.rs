//! Recordings of a venue's market channel: JSON Lines (gzip when the file name ends in `.gz`),
//! one object per line: `{"recv_ns":<u64>,"frame":"<frame text>"}` for a frame, or
//! `{"recv_ns":<u64>,"event":"connected"|"disconnected"}` for connection changes (a replay must
//! know that books went stale there). A frame of the real-time data stream (reference prices for
//! the crypto up/down models) recorded beside the market channel carries `"channel":"rtds"`;
//! backtests feed those to the models, the market-channel replays leave them out. Written by `polyfleet record`; read by [`Reader`] alone
//! (the simulator's replay, `polyfleet up --replay` and backtests), which accounts for every
//! line and refuses truncated, corrupt or empty recordings unless told to skip bad input.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Why a recording could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file could not be opened, read or written.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// A line that is not a recording line.
    #[error("{0}: line {1}: {2}")]
    Line(String, u64, String),
    /// The file ends in the middle (a truncated or corrupt `.gz`).
    #[error("{0}: cut off after line {1}: {2}")]
    Truncated(String, u64, String),
    /// No frame at all.
    #[error("{0}: no frames ({1} lines)")]
    Empty(String, u64),
}

/// What to do with input that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadInput {
    /// Stop with an error (the default: a result on part of the input is not the result).
    #[default]
    Fail,
    /// Count it, skip it and go on; a truncated file ends the input where it breaks.
    Skip,
}

/// Every line of a recording, accounted for: `lines = frames + connection + blank + bad`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadStats {
    /// Lines read.
    pub lines: u64,
    /// Frame lines.
    pub frames: u64,
    /// Of the frames, those of the real-time data stream (`"channel":"rtds"`).
    pub rtds: u64,
    /// `connected` / `disconnected` lines.
    pub connection: u64,
    /// Empty lines.
    pub blank: u64,
    /// Lines that are not recording lines, skipped ([`BadInput::Skip`]).
    pub bad: u64,
    /// The first bad line's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<String>,
    /// Where and why the file ended early ([`BadInput::Skip`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
}

impl ReadStats {
    /// True when input was skipped or cut: results cover part of the recording.
    pub fn partial(&self) -> bool {
        self.bad > 0 || self.truncated.is_some()
    }

    /// One line for a summary, e.g. `13 lines: 12 frames, 1 connection`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{} frames", self.frames)];
        if self.rtds > 0 {
            parts.push(format!("{} of them RTDS", self.rtds));
        }
        for (n, what) in [(self.connection, "connection"), (self.blank, "blank"), (self.bad, "unreadable, skipped")] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let mut out = format!("{} lines: {}", self.lines, parts.join(", "));
        if let Some(t) = &self.truncated {
            out.push_str(&format!("; cut off: {t}"));
        }
        out
    }
}

/// Reads a recording (gzip or plain) line by line, every line accounted for in [`ReadStats`].
/// As an iterator it yields the good lines; it stops at the first bad line
/// ([`BadInput::Fail`]) or where the file breaks, and [`Reader::finish`] then says whether the
/// whole recording was read: every reader of recordings (backtests, `up --replay`,
/// `venue-sim --replay`) goes through it, so all of them treat broken input alike.
pub struct Reader {
    name: String,
    lines: std::io::Lines<std::io::BufReader<Box<dyn std::io::Read + Send>>>,
    mode: BadInput,
    stats: ReadStats,
    error: Option<RecordingError>,
    done: bool,
}

impl Reader {
    /// Opens `path`.
    pub fn open(path: &Path, mode: BadInput) -> Result<Reader, RecordingError> {
        use std::io::BufRead;
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| RecordingError::Io(name.clone(), e))?;
        let reader: Box<dyn std::io::Read + Send> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let lines = std::io::BufReader::new(reader).lines();
        Ok(Reader { name, lines, mode, stats: ReadStats::default(), error: None, done: false })
    }

    /// What has been read so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Reads what is left, then: the accounting, or why the recording is not usable (a bad
    /// line or a cut in [`BadInput::Fail`] mode, or no frame at all).
    pub fn finish(mut self) -> Result<ReadStats, RecordingError> {
        for _ in self.by_ref() {}
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.stats.frames == 0 {
            return Err(RecordingError::Empty(self.name, self.stats.lines));
        }
        Ok(self.stats)
    }

    /// Every line, then the accounting (see [`Reader::finish`]).
    pub fn read_all(path: &Path, mode: BadInput) -> Result<(Vec<RecordLine>, ReadStats), RecordingError> {
        let mut reader = Reader::open(path, mode)?;
        let lines: Vec<RecordLine> = reader.by_ref().collect();
        Ok((lines, reader.finish()?))
    }

    fn bad(&mut self, line: u64, why: String) {
        match self.mode {
            BadInput::Fail => {
                self.error = Some(RecordingError::Line(self.name.clone(), line, why));
                self.done = true;
            }
            BadInput::Skip => {
                self.stats.bad += 1;
                self.stats.first_bad.get_or_insert_with(|| format!("line {line}: {why}"));
            }
        }
    }
}

impl Iterator for Reader {
    type Item = RecordLine;

    fn next(&mut self) -> Option<RecordLine> {
        while !self.done {
            let text = match self.lines.next() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.done = true;
                    let (name, after) = (self.name.clone(), self.stats.lines);
                    match self.mode {
                        BadInput::Fail => self.error = Some(RecordingError::Truncated(name, after, e.to_string())),
                        BadInput::Skip => self.stats.truncated = Some(format!("after line {after}: {e}")),
                    }
                    return None;
                }
                Some(Ok(t)) => t,
            };
            self.stats.lines += 1;
            let n = self.stats.lines;
            if text.trim().is_empty() {
                self.stats.blank += 1;
                continue;
            }
            match serde_json::from_str::<RecordLine>(&text) {
                Ok(l) => match (&l.frame, l.event.as_deref()) {
                    (Some(_), None) => {
                        self.stats.frames += 1;
                        self.stats.rtds += u64::from(l.channel == Some(Channel::Rtds));
                        return Some(l);
                    }
                    (None, Some("connected" | "disconnected")) => {
                        self.stats.connection += 1;
                        return Some(l);
                    }
                    (None, Some(other)) => self.bad(n, format!("unknown connection event {other:?}")),
                    _ => self.bad(n, "neither a frame nor a connection event".into()),
                },
                Err(e) => self.bad(n, e.to_string()),
            }
        }
        None
    }
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
    /// The channel of a frame other than the market channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

/// A channel recorded beside the market channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// The real-time data stream (reference prices).
    Rtds,
}

impl RecordLine {
    /// A market-channel frame received at `recv_ns`.
    pub fn frame(recv_ns: u64, text: String) -> RecordLine {
        RecordLine { recv_ns, frame: Some(text), event: None, channel: None }
    }

    /// A frame of the real-time data stream received at `recv_ns`.
    pub fn rtds(recv_ns: u64, text: String) -> RecordLine {
        RecordLine { recv_ns, frame: Some(text), event: None, channel: Some(Channel::Rtds) }
    }

    /// A connection change (`connected` or `disconnected`) at `recv_ns`.
    pub fn connection(recv_ns: u64, event: &str) -> RecordLine {
        RecordLine { recv_ns, frame: None, event: Some(event.to_string()), channel: None }
    }

    /// True for a market-channel line (a frame of it, or a connection change).
    pub fn is_market(&self) -> bool {
        self.channel.is_none()
    }

    /// Writes it as one line of a recording.
    pub fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, self)?;
        out.write_all(b"\n")
    }
}

/// Opens a recording for writing (gzip when the name ends in `.gz`).
pub fn create(path: &Path) -> Result<Box<dyn Write + Send>, RecordingError> {
    let file = std::fs::File::create(path).map_err(|e| RecordingError::Io(path.display().to_string(), e))?;
    let buffered = std::io::BufWriter::new(file);
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        // Buffered in front too: the encoder is slow on the many small writes a line is made
        // of (17 MB/s unbuffered against 100+ MB/s in 64 KiB blocks).
        let encoder = flate2::write::GzEncoder::new(buffered, flate2::Compression::fast());
        Box::new(std::io::BufWriter::with_capacity(1 << 16, encoder))
    } else {
        Box::new(buffered)
    })
}
