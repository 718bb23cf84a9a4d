//! L2 order books in fixed point, sans-IO: [`OrderBook`] for one token and [`BinaryBooks`] for
//! the two mirrored tokens of a binary market.
//!
//! Venue snapshots are applied whatever their level order (Polymarket sends levels worst-first
//! and does not promise it); deltas carry a level's new total size ("0" removes it). After a tick
//! size change the book is void and refuses deltas until the next snapshot. Each side is a
//! `Vec` sorted so the best level is last: updates near the top of the book, which are most of
//! them, touch the end of the vector.

mod binary;
mod follower;
mod order_book;

pub use binary::BinaryBooks;
pub use follower::{BookFollower, Followed};
pub use order_book::{BookError, BookState, Fill as Sweep, OrderBook};
