//! loom model of the child-exit protocol ([`leave`] and [`next_report`]): children
//! retiring on their own threads while their parent waits for their exits. The parent
//! hears of every child exactly once and never waits for a report that will not come.
//! The record (list of children and report channel) sits under one lock, as in the
//! graph; the channel is a plain queue with a waker. A handle's `join` returns after
//! the child's retirement: by then the parent's list no longer has it and its report
//! is queued.

use std::collections::VecDeque;
use std::task::{Context, Poll};

use loom::sync::{Arc, Mutex};
use loom::thread;

use super::super::{ReportReceiver, ReportSender, leave, next_report};
use crate::sync::{AtomicWaker, model};

/// An unbounded channel of exit reports (the runtime uses tokio's).
struct Channel {
    queue: Mutex<VecDeque<usize>>,
    waker: AtomicWaker,
}

#[derive(Clone)]
struct Tx(Arc<Channel>);
struct Rx(Arc<Channel>);

impl ReportSender<usize> for Tx {
    fn report(&self, report: usize) {
        self.0.queue.lock().unwrap().push_back(report);
        self.0.waker.wake();
    }
}

impl ReportReceiver<usize> for Rx {
    fn try_take(&mut self) -> Option<usize> {
        self.0.queue.lock().unwrap().pop_front()
    }

    fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        self.0.waker.register(cx.waker());
        match self.try_take() {
            Some(r) => Poll::Ready(Some(r)),
            None => Poll::Pending,
        }
    }
}

/// A parent's record in the graph: its children and where they report.
struct Record {
    children: Vec<usize>,
    reports: Option<Tx>,
}

fn children_retire_while_the_parent_waits(children: usize) {
    let channel = Arc::new(Channel {
        queue: Mutex::new(VecDeque::new()),
        waker: AtomicWaker::new(),
    });
    let ids: Vec<usize> = (1..=children).collect();
    let graph = Arc::new(Mutex::new(Record {
        children: ids.clone(),
        reports: Some(Tx(channel.clone())),
    }));
    let retiring: Vec<_> = ids
        .iter()
        .map(|&id| {
            let graph = graph.clone();
            thread::spawn(move || {
                let mut record = graph.lock().unwrap();
                let record = &mut *record;
                leave(&mut record.children, &id, record.reports.as_ref(), || id);
            })
        })
        .collect();
    let mut rx = Rx(channel);
    // A report the parent waits for in vain leaves it parked: loom reports a deadlock.
    let heard = loom::future::block_on(async {
        let mut heard = Vec::new();
        while let Some(id) =
            next_report(&mut rx, || !graph.lock().unwrap().children.is_empty()).await
        {
            heard.push(id);
        }
        heard
    });
    for t in retiring {
        t.join().unwrap();
    }
    let mut heard = heard;
    heard.sort_unstable();
    assert_eq!(heard, ids, "every child's exit heard exactly once");
    assert!(graph.lock().unwrap().children.is_empty());
}

#[test]
fn loom_a_parent_hears_of_its_only_child() {
    model("exit reports: one child", || {
        children_retire_while_the_parent_waits(1)
    });
}

#[test]
fn loom_a_parent_hears_of_both_children() {
    model("exit reports: two children", || {
        children_retire_while_the_parent_waits(2)
    });
}

#[test]
fn loom_a_joined_child_has_left_its_parent_and_reported() {
    model("exit reports: a child joined from another thread", || {
        let channel = Arc::new(Channel {
            queue: Mutex::new(VecDeque::new()),
            waker: AtomicWaker::new(),
        });
        let graph = Arc::new(Mutex::new(Record {
            children: vec![1, 2],
            reports: Some(Tx(channel.clone())),
        }));
        let retire = |id: usize| {
            let graph = graph.clone();
            thread::spawn(move || {
                let mut record = graph.lock().unwrap();
                let record = &mut *record;
                leave(&mut record.children, &id, record.reports.as_ref(), || id);
            })
        };
        let (first, second) = (retire(1), retire(2));
        // The first child's join handle, held by another thread.
        let joiner = {
            let graph = graph.clone();
            let channel = channel.clone();
            thread::spawn(move || {
                first.join().unwrap();
                let listed = graph.lock().unwrap().children.contains(&1);
                let queued = channel.queue.lock().unwrap().contains(&1);
                (listed, queued)
            })
        };
        assert_eq!(
            joiner.join().unwrap(),
            (false, true),
            "left the list, report queued"
        );
        second.join().unwrap();
        let mut rx = Rx(channel);
        let mut heard = loom::future::block_on(async {
            let mut heard = Vec::new();
            while let Some(id) =
                next_report(&mut rx, || !graph.lock().unwrap().children.is_empty()).await
            {
                heard.push(id);
            }
            heard
        });
        heard.sort_unstable();
        assert_eq!(heard, [1, 2]);
    });
}
