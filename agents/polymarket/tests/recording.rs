//! The one recording reader: every line accounted for (`lines = frames + connection + blank +
//! bad`), and truncated, garbage and empty recordings refused unless bad input is to be skipped,
//! in which case the skipped and cut input is counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "a test or bench fails by panicking")]

use std::io::Write;
use std::path::{Path, PathBuf};

use polyfleet_polymarket::data::recording::{BadInput, ReadStats, Reader, RecordLine, RecordingError, create};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("polyfleet-rec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A recording of `frames` frame lines after one `connected` line.
fn write(path: &Path, frames: u64) {
    let mut out = create(path).unwrap();
    let connected = RecordLine::connection(1, "connected");
    writeln!(out, "{}", serde_json::to_string(&connected).unwrap()).unwrap();
    for i in 0..frames {
        let l = RecordLine::frame(2 + i, format!("[{{\"n\":{i}}}]"));
        writeln!(out, "{}", serde_json::to_string(&l).unwrap()).unwrap();
    }
    out.flush().unwrap();
}

fn balanced(s: &ReadStats) -> bool {
    s.lines == s.frames + s.connection + s.blank + s.bad
}

#[test]
fn a_whole_recording_is_read_and_accounted() {
    let dir = tmp("whole");
    for name in ["r.jsonl", "r.jsonl.gz"] {
        let path = dir.join(name);
        write(&path, 1000);
        let (lines, stats) = Reader::read_all(&path, BadInput::Fail).unwrap();
        assert_eq!(lines.len(), 1001);
        assert_eq!((stats.lines, stats.frames, stats.connection, stats.bad), (1001, 1000, 1, 0));
        assert!(balanced(&stats) && !stats.partial());
    }
}

#[test]
fn a_garbage_line_stops_the_read_with_its_line_number_unless_skipped() {
    let dir = tmp("garbage");
    let path = dir.join("r.jsonl");
    write(&path, 10);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("not json at all\n\n{\"recv_ns\":99}\n");
    let good = RecordLine::frame(100, "[]".into());
    text.push_str(&serde_json::to_string(&good).unwrap());
    text.push('\n');
    std::fs::write(&path, text).unwrap();

    let err = Reader::read_all(&path, BadInput::Fail).unwrap_err();
    assert!(matches!(err, RecordingError::Line(_, 12, _)), "{err}");
    assert!(err.to_string().contains("line 12"), "{err}");

    let (lines, stats) = Reader::read_all(&path, BadInput::Skip).unwrap();
    assert_eq!(lines.len(), 12, "the good lines on both sides of the bad ones");
    assert_eq!((stats.lines, stats.frames, stats.blank, stats.bad), (15, 11, 1, 2));
    assert!(balanced(&stats) && stats.partial());
    assert!(stats.first_bad.as_deref().unwrap().starts_with("line 12:"), "{stats:?}");
    assert!(stats.describe().contains("2 unreadable, skipped"), "{}", stats.describe());
}

#[test]
fn a_truncated_gzip_is_an_error_unless_skipped_and_then_says_where_it_broke() {
    let dir = tmp("truncated");
    let path = dir.join("r.jsonl.gz");
    write(&path, 20_000);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();

    let err = Reader::read_all(&path, BadInput::Fail).unwrap_err();
    assert!(matches!(err, RecordingError::Truncated(..)), "{err}");

    let (lines, stats) = Reader::read_all(&path, BadInput::Skip).unwrap();
    assert!(!lines.is_empty() && (lines.len() as u64) < 20_001);
    assert!(stats.truncated.is_some() && stats.partial(), "{stats:?}");
    assert!(balanced(&stats));
}

#[test]
fn an_empty_recording_is_an_error_plain_or_compressed() {
    let dir = tmp("empty");
    let plain = dir.join("e.jsonl");
    std::fs::write(&plain, "").unwrap();
    let gz = dir.join("e.jsonl.gz");
    drop(create(&gz).unwrap());
    let only_connection = dir.join("c.jsonl");
    write(&only_connection, 0);
    for path in [plain, gz, only_connection] {
        for mode in [BadInput::Fail, BadInput::Skip] {
            let err = Reader::read_all(&path, mode).unwrap_err();
            assert!(matches!(err, RecordingError::Empty(..)), "{}: {err}", path.display());
        }
    }
}
