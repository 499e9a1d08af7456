//! Nothing is lost silently: a lossy link's drops are counted, warned about (naming
//! both ends, at most once a second per link) and reported when a component ends.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axon::introspect::GraphEvent;
use axon::{Context, Policy, Runtime, component::from_fn};

/// Log lines written by the code under test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_string)
            .collect()
    }
}

#[test]
fn a_lossy_link_warns_naming_both_ends_and_its_count_without_flooding_the_log() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let rt_tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let (dropped_at_exit, outbox_dropped) = tracing::subscriber::with_default(subscriber, || {
        rt_tokio.block_on(async {
            let rt = Runtime::new();
            let mut events = rt.subscribe();
            let sink = rt
                .add(from_fn("sink", |_c: Context<u32, ()>| {
                    std::future::pending()
                }))
                .unwrap();
            let mut ext = rt.external("source");
            let (out_ref, mut out) = ext.add_outbox::<u32>("readings").unwrap();
            rt.link_with(out_ref, sink.inbox(), Policy::DropNewest)
                .unwrap();
            let h = sink.start();
            for i in 0..1000 {
                out.send(i).await.unwrap();
            }
            let snap = rt.snapshot();
            let outbox_dropped = snap
                .component(ext.id())
                .unwrap()
                .boxes
                .iter()
                .find(|b| b.name == "readings")
                .unwrap()
                .dropped;
            h.kill();
            h.join().await;
            let mut at_exit = None;
            while let Ok(ev) = events.try_recv() {
                if let GraphEvent::Exited { name, dropped, .. } = ev
                    && name == "sink"
                {
                    at_exit = Some(dropped);
                }
            }
            (at_exit, outbox_dropped)
        })
    });
    let capacity = axon::DEFAULT_CAPACITY as u64;
    assert_eq!(outbox_dropped, 1000 - capacity, "every drop is counted");
    assert_eq!(
        dropped_at_exit,
        Some(1000 - capacity),
        "the exit event carries the count"
    );
    let lines = log.lines();
    let link_warnings: Vec<&String> = lines.iter().filter(|l| l.contains("has dropped")).collect();
    assert!(
        !link_warnings.is_empty(),
        "no warning for the drops: {lines:?}"
    );
    assert!(
        link_warnings[0].contains("source#") && link_warnings[0].contains("sink#"),
        "the warning names both ends: {}",
        link_warnings[0]
    );
    assert!(
        link_warnings[0].contains("dropped 1 messages"),
        "{}",
        link_warnings[0]
    );
    // At most one warning a second per link (the first comes at once).
    let allowed = 1 + started.elapsed().as_secs() as usize;
    assert!(
        link_warnings.len() <= allowed,
        "{} warnings for one link in {:?}",
        link_warnings.len(),
        started.elapsed()
    );
    assert!(
        lines.iter().any(|l| l.contains("sink#")
            && l.contains(&format!("dropped {} of its messages", 1000 - capacity))),
        "the component's exit says what its links dropped: {lines:?}"
    );
}
