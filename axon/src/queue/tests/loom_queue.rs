//! loom models of the inbox queue: a send wakes the parked reader, blocked senders
//! (by count or by bytes, freed on either side) get in as the reader frees room, a
//! cancelled sender passes
//! its turn on, the evicting policies lose nothing silently and keep the byte count
//! exact while the reader takes messages, closing wakes everyone,
//! and the parking generation never lets the reader sleep through a send.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

use super::super::{Empty, Queue};
use crate::sync::model;

/// Poll `f` once; `true` if it completed.
fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> bool {
    let mut f = f;
    block_on(poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx).is_ready())))
}

/// Everything still queued, after the other threads are done.
fn drain<T>(q: &Queue<T>) -> Vec<T> {
    let mut left = Vec::new();
    while let Ok(m) = q.try_pop() {
        left.push(m);
    }
    left
}

fn blocked_senders<T>(q: &Queue<T>) -> u32 {
    q.waiting()
}

// The size function's type is `fn(&T)` for `T = Vec<u8>`.
#[allow(clippy::ptr_arg)]
fn len_of(v: &Vec<u8>) -> usize {
    v.len()
}

#[test]
fn loom_a_send_and_a_close_wake_the_parked_reader() {
    model("queue: send then close wake the reader", || {
        let q = Arc::new(Queue::new(1));
        let tx = q.clone();
        let sender = thread::spawn(move || {
            assert!(tx.try_push(1u8).is_ok());
            tx.close();
        });
        let got = block_on(async { (q.pop().await, q.pop().await) });
        sender.join().unwrap();
        assert_eq!(got, (Some(1), None));
    });
}

#[test]
fn loom_blocked_senders_get_in_as_the_reader_frees_room() {
    model("queue: two senders blocked on a full queue", || {
        let q = Arc::new(Queue::new(1));
        assert!(q.try_push(0u8).is_ok());
        let senders: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|i| {
                let q = q.clone();
                thread::spawn(move || assert!(block_on(q.push(i)).is_ok()))
            })
            .collect();
        let mut got = block_on(async {
            let mut got = Vec::new();
            for _ in 0..3 {
                got.push(q.pop().await.expect("open"));
            }
            got
        });
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(got[0], 0, "the oldest first");
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(blocked_senders(&q), 0);
    });
}

#[test]
fn loom_a_cancelled_blocked_sender_passes_its_turn_on() {
    model(
        "queue: a blocked sender cancelled while another waits",
        || {
            let q = Arc::new(Queue::new(1));
            assert!(q.try_push(0u8).is_ok());
            let cancelled = {
                let q = q.clone();
                thread::spawn(move || {
                    let push = pin!(q.push(1));
                    // One poll, then dropped: in (if there was room) or cancelled.
                    poll_once(push)
                })
            };
            let waiting = {
                let q = q.clone();
                thread::spawn(move || assert!(block_on(q.push(2)).is_ok()))
            };
            // Read until the waiting sender's message arrives: a turn lost with the
            // cancelled sender would leave it (and this thread) waiting for ever.
            let mut got = block_on(async {
                let mut got = Vec::new();
                while got.last() != Some(&2) {
                    got.push(q.pop().await.expect("open"));
                }
                got
            });
            let first_got_in = cancelled.join().unwrap();
            waiting.join().unwrap();
            got.extend(drain(&q));
            got.sort_unstable();
            let expected: &[u8] = if first_got_in { &[0, 1, 2] } else { &[0, 2] };
            assert_eq!(got, expected);
            assert_eq!(blocked_senders(&q), 0);
        },
    );
}

#[test]
fn loom_senders_wait_for_bytes_and_an_oversized_message_enters_an_empty_queue() {
    model(
        "queue: byte budget with a waiting and an oversized sender",
        || {
            let q = Arc::new(Queue::new(8));
            q.set_budget(Some((10, len_of)));
            assert!(q.try_push(vec![0; 6]).is_ok());
            let senders: Vec<_> = [8usize, 20]
                .into_iter()
                .map(|n| {
                    let q = q.clone();
                    thread::spawn(move || assert!(block_on(q.push(vec![1; n])).is_ok()))
                })
                .collect();
            let mut sizes = block_on(async {
                let mut sizes = Vec::new();
                for _ in 0..3 {
                    sizes.push(q.pop().await.expect("open").len());
                    let (used, queued, len) = q.counted_and_queued(Vec::len);
                    // Within the budget, or one message alone that is larger than it; and
                    // exactly what is queued (counted once on the way in and out).
                    assert!(used <= 10 || len == 1, "{used} bytes queued");
                    assert_eq!(used, queued);
                }
                sizes
            });
            for s in senders {
                s.join().unwrap();
            }
            sizes.sort_unstable();
            assert_eq!(sizes, [6, 8, 20]);
            assert_eq!(q.bytes(), Some((0, 10)));
            assert_eq!(blocked_senders(&q), 0);
        },
    );
}

#[test]
fn loom_a_sender_blocked_by_bytes_gets_in_as_the_reader_drains_its_own_side() {
    model(
        "queue: a sender waits for bytes held on the read side only",
        || {
            let q = Arc::new(Queue::new(4));
            q.set_budget(Some((8, len_of)));
            assert!(q.try_push(vec![0; 3]).is_ok());
            assert!(q.try_push(vec![1; 3]).is_ok());
            // Taking the first moves the second to the read side: the send side is
            // empty, and a 6-byte message does not fit beside the 3 bytes left.
            assert_eq!(q.try_pop().map(|m| m.len()), Ok(3));
            let tx = q.clone();
            let sender = thread::spawn(move || assert!(block_on(tx.push(vec![2; 6])).is_ok()));
            // The reader frees the room from its own side (no send-side lock), then
            // finds the send side empty and parks: the sender must hear of the room.
            let got = block_on(async { (q.pop().await, q.pop().await) });
            sender.join().unwrap();
            assert_eq!(got, (Some(vec![1; 3]), Some(vec![2; 6])));
            assert_eq!(q.bytes(), Some((0, 8)));
            assert_eq!(blocked_senders(&q), 0);
        },
    );
}

#[test]
fn loom_evicting_and_clearing_lose_nothing_uncounted() {
    model(
        "queue: drop-oldest and keep-latest senders with a reader",
        || {
            let q = Arc::new(Queue::new(1));
            let oldest = {
                let q = q.clone();
                thread::spawn(move || q.push_evicting(1u8).expect("open"))
            };
            let latest = {
                let q = q.clone();
                thread::spawn(move || {
                    let cleared = q.clear();
                    cleared + q.push_evicting(2u8).expect("open")
                })
            };
            let read = match q.try_pop() {
                Ok(m) => vec![m],
                Err(e) => {
                    assert_eq!(e, Empty::Empty);
                    Vec::new()
                }
            };
            let removed = oldest.join().unwrap() + latest.join().unwrap();
            let mut got = read;
            got.extend(drain(&q));
            // Every message is read or counted as removed, once.
            assert_eq!(got.len() + removed, 2, "read {got:?}, removed {removed}");
            assert!(!got.is_empty(), "the last message sent stays");
            got.dedup();
            assert_eq!(got.len() + removed, 2);
        },
    );
}

#[test]
fn loom_clearing_and_evicting_while_the_reader_takes_keep_the_byte_count_exact() {
    model(
        "queue: keep-latest and drop-oldest under a byte budget with a reader",
        || {
            let q = Arc::new(Queue::new(4));
            q.set_budget(Some((10, len_of)));
            assert!(q.try_push(vec![0; 3]).is_ok());
            assert!(q.try_push(vec![0; 4]).is_ok());
            let latest = {
                let q = q.clone();
                thread::spawn(move || {
                    // A message the reader has taken but not yet counted out must not be
                    // counted out twice (a byte count that wraps would look full forever).
                    let cleared = q.clear();
                    cleared + q.push_evicting(vec![1; 8]).expect("open")
                })
            };
            let mut read = 0;
            for _ in 0..2 {
                if q.try_pop().is_ok() {
                    read += 1;
                }
            }
            let removed = latest.join().unwrap();
            let (used, queued, len) = q.counted_and_queued(Vec::len);
            assert_eq!(used, queued, "{used} bytes counted, {queued} queued");
            assert_eq!(read + removed + len, 3);
            let left = drain(&q);
            assert_eq!(left.len(), len);
            assert_eq!(q.bytes(), Some((0, 10)));
        },
    );
}

#[test]
fn loom_closing_wakes_a_blocked_sender_and_the_reader() {
    model(
        "queue: close with a blocked sender and a parked reader",
        || {
            let q = Arc::new(Queue::new(1));
            assert!(q.try_push(0u8).is_ok());
            // Nobody reads until the close: only the close can release this sender.
            let sender = {
                let q = q.clone();
                thread::spawn(move || block_on(q.push(1)))
            };
            let closer = {
                let q = q.clone();
                thread::spawn(move || q.close())
            };
            assert_eq!(sender.join().unwrap(), Err(1), "the message is handed back");
            closer.join().unwrap();
            assert_eq!(blocked_senders(&q), 0);
            // The reader gets what was queued, then the end.
            let got = block_on(async { (q.pop().await, q.pop().await) });
            assert_eq!(got, (Some(0), None));
        },
    );
}

#[test]
fn loom_closing_an_empty_queue_wakes_the_parked_reader() {
    model("queue: close while the reader is parked", || {
        let q = Arc::new(Queue::<u8>::new(1));
        let closer = {
            let q = q.clone();
            thread::spawn(move || q.close())
        };
        assert_eq!(block_on(q.pop()), None);
        closer.join().unwrap();
    });
}

#[test]
fn loom_the_parking_generation_never_hides_a_send() {
    model(
        "queue: reader skipping the lock while its waker is parked",
        || {
            let q = Arc::new(Queue::new(2));
            let senders: Vec<_> = [1u8, 2]
                .into_iter()
                .map(|i| {
                    let q = q.clone();
                    thread::spawn(move || assert!(q.try_push(i).is_ok()))
                })
                .collect();
            // As `Context::poll_recv` does for `control`: while the generation is where
            // this reader's parking left it and the queue is empty and open, do not poll.
            let mut generation = 0;
            let mut parked = false;
            let mut got = block_on(async {
                let mut got = Vec::new();
                while got.len() < 2 {
                    let m = poll_fn(|cx| {
                        if parked
                            && q.len() == 0
                            && !q.is_closed()
                            && q.parked_since() == generation
                        {
                            return Poll::Pending;
                        }
                        match q.poll_recv_noting(cx, &mut generation) {
                            Poll::Pending => {
                                parked = true;
                                Poll::Pending
                            }
                            ready => ready,
                        }
                    })
                    .await;
                    got.push(m.expect("open"));
                }
                got
            });
            for s in senders {
                s.join().unwrap();
            }
            got.sort_unstable();
            assert_eq!(got, [1, 2]);
        },
    );
}

#[test]
fn loom_a_reader_taking_batches_frees_room_for_blocked_senders() {
    model(
        "queue: the reader takes batches while two senders wait for room",
        || {
            let q = Arc::new(Queue::new(2));
            assert!(q.try_push(0u8).is_ok());
            let senders: Vec<_> = [&[10u8, 11][..], &[20]]
                .into_iter()
                .map(|msgs| {
                    let q = q.clone();
                    thread::spawn(move || {
                        for &m in msgs {
                            assert!(block_on(q.push(m)).is_ok());
                        }
                    })
                })
                .collect();
            let got = block_on(async {
                let mut got = Vec::new();
                for _ in 0..4 {
                    got.push(q.pop().await.expect("open"));
                    // Never more queued than the capacity, counting both sides.
                    assert!(q.len() <= 2, "{} queued", q.len());
                }
                got
            });
            for s in senders {
                s.join().unwrap();
            }
            assert_eq!(got[0], 0, "the oldest first");
            let first: Vec<u8> = got.iter().copied().filter(|m| m / 10 == 1).collect();
            assert_eq!(first, [10, 11], "a sender's order kept");
            assert!(got.contains(&20));
            assert_eq!(blocked_senders(&q), 0);
            assert_eq!(q.len(), 0);
        },
    );
}
