//! LineDeframer and LineFramer: chunk boundaries, line endings, limits, UTF-8 and the
//! end of input.

use axon::testing::Harness;
use axon::{Context, Control, Exit, Runtime, component::from_fn};
use bytes::Bytes;
use components::framing::{Error, InvalidUtf8, LineDeframer, LineFramer};

fn failure(exit: &Exit) -> Option<Error> {
    match exit {
        Exit::Failed(e) => e.downcast_ref::<Error>().cloned(),
        _ => None,
    }
}

async fn send_chunks(h: &mut Harness<Bytes, String>, chunks: &[&'static [u8]]) {
    for c in chunks {
        h.send(Bytes::from_static(c)).await;
    }
}

/// Everything the deframer sends until it ends.
async fn all_lines(h: &mut Harness<Bytes, String>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(line) = h.recv().await {
        lines.push(line);
    }
    lines
}

#[tokio::test]
async fn lines_split_across_chunks_are_joined() {
    let mut h = Harness::new(LineDeframer::new());
    send_chunks(
        &mut h,
        &[b"he", b"llo\nwo", b"rld\nthree\nfour\n", b"fi", b"ve\n"],
    )
    .await;
    h.finish().await;
    assert_eq!(
        all_lines(&mut h).await,
        ["hello", "world", "three", "four", "five"]
    );
    assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
    assert!(matches!(h.exit().await, Exit::Finished));
}

#[tokio::test]
async fn one_byte_at_a_time() {
    let mut h = Harness::new(LineDeframer::new());
    for b in b"ab\r\ncd\n" {
        h.send(Bytes::copy_from_slice(&[*b])).await;
    }
    h.finish().await;
    assert_eq!(all_lines(&mut h).await, ["ab", "cd"]);
}

#[tokio::test]
async fn crlf_lf_and_empty_lines() {
    let mut h = Harness::new(LineDeframer::new());
    send_chunks(&mut h, &[b"dos\r\nunix\n\n\r\nend\n"]).await;
    h.finish().await;
    assert_eq!(all_lines(&mut h).await, ["dos", "unix", "", "", "end"]);
}

#[tokio::test]
async fn a_multibyte_character_split_across_chunks_survives() {
    let mut h = Harness::new(LineDeframer::new());
    // "café\n" with the two bytes of 'é' (C3 A9) in different chunks.
    send_chunks(&mut h, &[b"caf\xc3", b"\xa9\n"]).await;
    assert_eq!(h.recv().await.as_deref(), Some("café"));
}

#[tokio::test]
async fn final_line_without_newline_is_delivered_at_producer_finished() {
    let mut h = Harness::new(LineDeframer::new());
    send_chunks(&mut h, &[b"complete\nparti", b"al"]).await;
    h.finish().await;
    assert_eq!(all_lines(&mut h).await, ["complete", "partial"]);
    assert!(matches!(h.exit().await, Exit::Finished));
}

#[tokio::test]
async fn final_line_without_newline_is_delivered_at_socket_shutdown() {
    let mut h = Harness::new(LineDeframer::new());
    send_chunks(&mut h, &[b"last words"]).await;
    h.send_control(Control::SocketShutdown).await;
    assert_eq!(all_lines(&mut h).await, ["last words"]);
    assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
}

#[tokio::test]
async fn shutdown_discards_the_unterminated_line() {
    let mut h = Harness::new(LineDeframer::new());
    send_chunks(&mut h, &[b"line\n"]).await;
    assert_eq!(h.recv().await.as_deref(), Some("line"));
    send_chunks(&mut h, &[b"unfinished"]).await;
    h.send_control(Control::Shutdown).await;
    assert_eq!(h.recv().await, None);
    assert!(matches!(h.exit().await, Exit::ShutDown));
    assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
}

#[tokio::test]
async fn the_maximum_counts_the_line_without_its_ending() {
    let mut h = Harness::new(LineDeframer::new().max_line_length(5));
    send_chunks(&mut h, &[b"12345\r\n12345\n"]).await;
    h.finish().await;
    assert_eq!(all_lines(&mut h).await, ["12345", "12345"]);
    assert!(matches!(h.exit().await, Exit::Finished));
}

#[tokio::test]
async fn an_oversized_line_fails_after_the_lines_before_it() {
    let mut h = Harness::new(LineDeframer::new().max_line_length(5));
    send_chunks(&mut h, &[b"ok\n123456\nnever\n"]).await;
    assert_eq!(all_lines(&mut h).await, ["ok"]);
    let exit = h.exit().await;
    assert_eq!(
        failure(&exit),
        Some(Error::LineTooLong { line: 2, max: 5 }),
        "{exit}"
    );
    assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
}

#[tokio::test]
async fn an_endless_line_fails_before_its_end_arrives() {
    let mut h = Harness::new(LineDeframer::new().max_line_length(8));
    // No newline ever comes; the deframer must not wait for one.
    for _ in 0..3 {
        if h.try_send(Bytes::from_static(b"xxxx")).await.is_err() {
            break;
        }
    }
    assert_eq!(h.recv().await, None);
    let exit = h.exit().await;
    assert_eq!(
        failure(&exit),
        Some(Error::LineTooLong { line: 1, max: 8 }),
        "{exit}"
    );
}

#[tokio::test]
async fn an_oversized_final_line_fails_at_end_of_input() {
    let mut h = Harness::new(LineDeframer::new().max_line_length(3));
    send_chunks(&mut h, &[b"abc\nabcd"]).await;
    h.finish().await;
    assert_eq!(all_lines(&mut h).await, ["abc"]);
    let exit = h.exit().await;
    assert_eq!(
        failure(&exit),
        Some(Error::LineTooLong { line: 2, max: 3 }),
        "{exit}"
    );
}

#[tokio::test]
async fn invalid_utf8_fails_by_default() {
    let mut h = Harness::new(LineDeframer::new());
    send_chunks(&mut h, &[b"good\nbad \xff\xfe\n"]).await;
    assert_eq!(all_lines(&mut h).await, ["good"]);
    let exit = h.exit().await;
    assert!(
        matches!(failure(&exit), Some(Error::InvalidUtf8 { line: 2, .. })),
        "{exit}"
    );
}

#[tokio::test]
async fn invalid_utf8_can_be_replaced() {
    let mut h = Harness::new(LineDeframer::new().invalid_utf8(InvalidUtf8::Replace));
    send_chunks(&mut h, &[b"bad \xff\n", b"good\n"]).await;
    h.finish().await;
    assert_eq!(all_lines(&mut h).await, ["bad \u{FFFD}", "good"]);
    assert!(matches!(h.exit().await, Exit::Finished));
}

#[tokio::test]
async fn framer_appends_the_terminator() {
    let mut h = Harness::new(LineFramer::new());
    h.send("one".to_string()).await;
    h.send(String::new()).await;
    assert_eq!(h.recv().await, Some(Bytes::from_static(b"one\n")));
    assert_eq!(h.recv().await, Some(Bytes::from_static(b"\n")));

    let mut h = Harness::new(LineFramer::new().terminator("\r\n"));
    h.send("two".to_string()).await;
    h.finish().await;
    assert_eq!(h.recv().await, Some(Bytes::from_static(b"two\r\n")));
    assert_eq!(h.recv().await, None);
    assert!(matches!(h.exit().await, Exit::Finished));
}

#[tokio::test]
async fn framer_then_deframer_round_trips() {
    let rt = Runtime::new();
    let framer = rt.add(LineFramer::new().terminator("\r\n")).unwrap();
    let deframer = rt.add(LineDeframer::new()).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let collect = rt
        .add(from_fn(
            "collect",
            move |mut ctx: Context<String, ()>| async move {
                let mut lines = Vec::new();
                while let Some(line) = ctx.recv().await {
                    lines.push(line);
                }
                let _ = tx.send(lines);
                Ok(())
            },
        ))
        .unwrap();
    rt.link(framer.outbox(), deframer.inbox()).unwrap();
    rt.link(framer.signal(), deframer.control()).unwrap();
    rt.link(deframer.outbox(), collect.inbox()).unwrap();
    rt.link(deframer.signal(), collect.control()).unwrap();
    let mut ext = rt.external("test");
    let (to_ref, mut to) = ext.add_outbox::<String>("lines").unwrap();
    let (ctl_ref, mut ctl) = ext.add_outbox::<Control>("control").unwrap();
    rt.link(to_ref, framer.inbox()).unwrap();
    rt.link(ctl_ref, framer.control()).unwrap();
    let handles = [framer.start(), deframer.start(), collect.start()];
    let sent = ["alpha", "", "gamma δ"];
    for s in sent {
        to.send(s.to_string()).await.unwrap();
    }
    ctl.send(Control::ProducerFinished).await.unwrap();
    assert_eq!(rx.await.unwrap(), sent);
    for h in handles {
        assert!(matches!(h.join().await, Exit::Finished));
    }
}
