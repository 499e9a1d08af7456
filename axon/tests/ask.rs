//! Request and reply: answers come back typed, slow ones time out, and a request whose
//! answerer ends is answered with an error at once — never left hanging.

use std::time::Duration;

use axon::component::from_fn;
use axon::{AskError, AskInfo, Context, Request, Runtime};

/// Answers each number with its square; ends after `serve` requests (without
/// answering the last one it takes, if `drop_last`).
fn squarer(
    serve: usize,
    drop_last: bool,
) -> impl axon::Component<In = Request<u64, u64>, Out = ()> {
    from_fn(
        "squarer",
        move |mut ctx: Context<Request<u64, u64>, ()>| async move {
            for i in 0..serve {
                let Some(req) = ctx.recv().await else { break };
                if drop_last && i + 1 == serve {
                    drop(req);
                } else {
                    let n = *req.body();
                    let _ = req.reply(n * n);
                }
            }
            Ok(())
        },
    )
}

fn asks(rt: &Runtime, id: axon::ComponentId, name: &str) -> AskInfo {
    rt.snapshot()
        .component(id)
        .unwrap()
        .boxes
        .iter()
        .find(|b| b.name == name)
        .and_then(|b| b.asks)
        .unwrap_or_default()
}

#[tokio::test]
async fn an_answer_comes_back_typed_and_is_counted() {
    let rt = Runtime::new();
    let sq = rt.add(squarer(usize::MAX, false)).unwrap();
    let mut me = rt.external("asker");
    let (to, mut out) = me.add_outbox::<Request<u64, u64>>("squares").unwrap();
    rt.link(to, sq.inbox()).unwrap();
    let _h = sq.start();
    for n in 0..10u64 {
        assert_eq!(out.ask(n, Duration::from_secs(5)).await.unwrap(), n * n);
    }
    let a = asks(&rt, me.id(), "squares");
    assert_eq!(
        (a.asked, a.replied, a.in_flight, a.timed_out, a.failed),
        (10, 10, 0, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_answer_times_out_on_the_clock() {
    let rt = Runtime::new();
    // Takes requests and never answers (keeps them).
    let sink = rt
        .add(from_fn(
            "hoarder",
            |mut ctx: Context<Request<u64, u64>, ()>| async move {
                let mut kept = Vec::new();
                while let Some(r) = ctx.recv().await {
                    kept.push(r);
                }
                Ok(())
            },
        ))
        .unwrap();
    let mut me = rt.external("asker");
    let (to, mut out) = me.add_outbox::<Request<u64, u64>>("q").unwrap();
    rt.link(to, sink.inbox()).unwrap();
    let _h = sink.start();
    let started = tokio::time::Instant::now();
    let err = out.ask(3, Duration::from_millis(250)).await.unwrap_err();
    assert!(
        matches!(err, AskError::Timeout(d) if d == Duration::from_millis(250)),
        "{err}"
    );
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    let a = asks(&rt, me.id(), "q");
    assert_eq!((a.asked, a.timed_out, a.in_flight), (1, 1, 0));
}

#[tokio::test]
async fn a_request_whose_answerer_ends_or_drops_it_fails_at_once() {
    let rt = Runtime::new();
    // Answers one, drops the second, then ends with the third still queued.
    let sq = rt.add(squarer(2, true)).unwrap();
    let mut me = rt.external("asker");
    let (to, mut out) = me.add_outbox::<Request<u64, u64>>("q").unwrap();
    rt.link(to, sq.inbox()).unwrap();
    let h = sq.start();
    let first = out.request(2).await.unwrap();
    let second = out.request(3).await.unwrap();
    let third = out.request(4).await.unwrap();
    let forever = Duration::from_secs(3600);
    assert_eq!(first.wait(forever).await.unwrap(), 4);
    assert_eq!(
        second.wait(forever).await.unwrap_err(),
        axon::ReplyError::NoReply
    );
    assert_eq!(
        third.wait(forever).await.unwrap_err(),
        axon::ReplyError::NoReply
    );
    h.join().await;
    // The answerer is gone: the next question comes straight back.
    match out.ask(5, forever).await {
        Err(AskError::NoDestination(e)) => assert_eq!(e.into_inner(), 5),
        other => panic!("expected NoDestination, got {other:?}"),
    }
    let a = asks(&rt, me.id(), "q");
    assert_eq!((a.asked, a.replied, a.failed, a.in_flight), (3, 1, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_requests_are_answered_in_the_order_asked() {
    let rt = Runtime::new();
    // Answers with a running count, so the answers show the order it took them in.
    let counter = rt
        .add(from_fn(
            "counter",
            |mut ctx: Context<Request<u32, (u32, u32)>, ()>| async move {
                let mut n = 0;
                while let Some(req) = ctx.recv().await {
                    let asked = *req.body();
                    let _ = req.reply((asked, n));
                    n += 1;
                }
                Ok(())
            },
        ))
        .unwrap();
    let mut askers = Vec::new();
    for a in 0..4 {
        let mut me = rt.external(format!("asker{a}"));
        let (to, out) = me.add_outbox::<Request<u32, (u32, u32)>>("q").unwrap();
        rt.link(to, counter.inbox()).unwrap();
        askers.push((me, out));
    }
    let _h = counter.start();
    let mut tasks = Vec::new();
    for (me, mut out) in askers {
        tasks.push(tokio::spawn(async move {
            let mut pending = Vec::new();
            for i in 0..500u32 {
                pending.push(out.request(i).await.unwrap());
            }
            let mut last = None;
            for (i, p) in pending.into_iter().enumerate() {
                let (asked, turn) = p.wait(Duration::from_secs(30)).await.unwrap();
                assert_eq!(asked as usize, i, "each answer is to its own question");
                assert!(last.is_none_or(|l| l < turn), "answered in the order asked");
                last = Some(turn);
            }
            drop(me);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
