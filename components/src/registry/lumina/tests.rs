//! Dispatcher behaviour: registration, status, events, command forwarding, timeouts and
//! connection loss, driven with caller-supplied times.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{Action, ColorState, Dispatcher, DispatcherConfig, Message, ServerIdentity};
use crate::registry::{
    ConnectionId, LinkState, LuminaError, NodeTable, RegistryChange, TableError,
};

const T0: Duration = Duration::ZERO;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn server() -> Dispatcher {
    let identity = ServerIdentity {
        hostname: "hub".into(),
        host_id: "hub-1".into(),
    };
    Dispatcher::new(identity, DispatcherConfig::default(), NodeTable::default())
}

fn peer(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn line(server: &mut Dispatcher, conn: ConnectionId, value: Value, now: Duration) -> Vec<Action> {
    server.receive_line(conn, value.to_string().as_bytes(), now)
}

/// Connects and registers `name` declaring `events` and `commands`.
fn node(server: &mut Dispatcher, name: &str, events: &[&str], commands: &[&str]) -> ConnectionId {
    let conn = server.connect(peer(40000), T0);
    let register = json!({"name": "register", "seq": 1,
        "kw": {"node": name, "hostid": format!("{name}-host"), "events": events, "commands": commands}});
    let actions = line(server, conn, register, T0);
    assert!(
        matches!(&actions[..], [Action::Changed(RegistryChange::Registered { .. }), Action::Send { message, .. }] if message.success == Some(true)),
        "{actions:?}"
    );
    conn
}

/// The single message sent to `to`, or a panic naming what happened instead.
fn sent_to(actions: &[Action], to: ConnectionId) -> Message {
    match actions {
        [
            Action::Send {
                to: target,
                message,
            },
        ] if *target == to => message.clone(),
        other => panic!("expected one message to {to}, got {other:?}"),
    }
}

fn failure_name(message: &Message) -> Option<&str> {
    (message.success == Some(false))
        .then(|| message.result.get(0)?.as_str())
        .flatten()
}

#[test]
fn register_conflict_and_reconnect_after_disconnect() {
    let mut server = server();
    let first = node(&mut server, "lamp", &["dimmed"], &["on"]);
    let Some(id) = server.table().by_name("lamp").map(|n| n.id) else {
        panic!("lamp is not in the table");
    };

    let second = server.connect(peer(40001), T0);
    let register = json!({"name": "register", "seq": 5, "kw": {"node": "lamp"}});
    let reply = sent_to(&line(&mut server, second, register.clone(), T0), second);
    assert_eq!(
        (reply.seq, failure_name(&reply)),
        (Some(5), Some("NodeConfigException"))
    );
    assert!(
        reply.result[1]
            .as_str()
            .is_some_and(|text| text.contains("still connected"))
    );

    let actions = server.disconnect(first);
    assert_eq!(
        actions,
        vec![Action::Changed(RegistryChange::Disconnected { id })]
    );
    assert_eq!(
        server.table().by_name("lamp").map(|n| n.link),
        Some(LinkState::Disconnected)
    );

    let actions = line(&mut server, second, register, secs(1));
    assert!(
        matches!(&actions[..], [Action::Changed(RegistryChange::Registered { id: again, .. }), _] if *again == id)
    );
    let lamp = server.table().by_name("lamp");
    assert_eq!(
        lamp.map(|n| (n.link, n.sequence)),
        Some((LinkState::Connected, Some(second)))
    );
    assert!(
        lamp.is_some_and(|n| n.events.is_empty()),
        "the new registration declared nothing"
    );
}

#[test]
fn failed_register_without_seq_is_dropped_with_reason() {
    let mut server = server();
    let conn = server.connect(peer(1), T0);
    let actions = line(
        &mut server,
        conn,
        json!({"name": "register", "kw": {"node": 3}}),
        T0,
    );
    assert!(
        matches!(
            &actions[..],
            [Action::Dropped {
                reason: LuminaError::InvalidRegistration(_),
                ..
            }]
        ),
        "{actions:?}"
    );
    assert!(server.table().is_empty());
}

#[test]
fn status_sets_the_nodes_color() {
    let mut server = server();
    let stranger = server.connect(peer(1), T0);
    let reply = sent_to(
        &line(
            &mut server,
            stranger,
            json!({"name": "status", "seq": 2, "args": ["GREEN", "OFF", "up"]}),
            T0,
        ),
        stranger,
    );
    assert_eq!(
        failure_name(&reply),
        Some("NodeConfigException"),
        "not registered yet"
    );

    let lamp = node(&mut server, "lamp", &[], &[]);
    let status = json!({"name": "status", "args": ["RED", "OFF", "bulb broken"]});
    let actions = line(&mut server, lamp, status.clone(), secs(3));
    let id = server.table().by_name("lamp").map(|n| n.id);
    assert!(
        matches!(&actions[..], [Action::Changed(RegistryChange::ColorChanged { id: changed, color: ColorState::Red, why: Some(why) })] if Some(*changed) == id && why == "bulb broken"),
        "{actions:?}"
    );
    assert_eq!(
        line(&mut server, lamp, status, secs(4)),
        vec![],
        "no change, no reply wanted"
    );
    assert_eq!(server.table().combined_color(), ColorState::Red);
    assert_eq!(
        server.table().by_name("lamp").map(|n| n.last_activity),
        Some(secs(4))
    );

    let reply = sent_to(
        &line(
            &mut server,
            lamp,
            json!({"name": "status", "seq": 9, "args": ["BLUE"]}),
            T0,
        ),
        lamp,
    );
    assert_eq!(failure_name(&reply), Some("NodeException"));
    let reply = sent_to(
        &line(
            &mut server,
            lamp,
            json!({"name": "status", "seq": 10, "args": []}),
            T0,
        ),
        lamp,
    );
    assert_eq!(failure_name(&reply), Some("NodeException"));
}

#[test]
fn serverid_answers_the_host_id() {
    let mut server = server();
    let conn = server.connect(peer(1), T0);
    let reply = sent_to(
        &line(&mut server, conn, json!({"name": "serverid", "seq": 3}), T0),
        conn,
    );
    assert_eq!(
        (reply.seq, reply.success, reply.result),
        (Some(3), Some(true), json!("hub-1"))
    );
}

#[test]
fn declared_events_reach_the_handler_and_undeclared_ones_are_dropped() {
    let mut server = server();
    let sensor = node(&mut server, "sensor", &["motion"], &[]);
    let event = json!({"name": "sensor/motion", "args": [1]});
    let actions = line(&mut server, sensor, event.clone(), T0);
    assert_eq!(
        actions,
        vec![Action::Event {
            from: sensor,
            message: Message::new("sensor/motion").with_args(vec![json!(1)])
        }]
    );

    let actions = line(
        &mut server,
        sensor,
        json!({"name": "sensor/motion", "seq": 4}),
        T0,
    );
    assert!(
        matches!(&actions[..], [Action::Event { .. }, Action::Send { message, .. }] if message.success == Some(true) && message.seq == Some(4))
    );

    let actions = line(&mut server, sensor, json!({"name": "sensor/smoke"}), T0);
    assert_eq!(
        actions,
        vec![Action::Dropped {
            from: sensor,
            reason: LuminaError::UndeclaredEvent("sensor/smoke".into())
        }]
    );

    let reply = sent_to(
        &line(
            &mut server,
            sensor,
            json!({"name": "sensor/smoke", "seq": 5}),
            T0,
        ),
        sensor,
    );
    assert_eq!(failure_name(&reply), Some("UnknownCommandException"));
    assert_eq!(reply.result[1], json!("unknown command \"sensor/smoke\""));
}

#[test]
fn commands_are_forwarded_and_replies_mapped_back_by_seq() {
    let mut server = server();
    let lamp = node(&mut server, "lamp", &[], &["dim"]);
    let (panel, phone) = (server.connect(peer(2), T0), server.connect(peer(3), T0));

    // Both callers use seq 1: the server must keep them apart.
    let to_lamp_a = sent_to(
        &line(
            &mut server,
            panel,
            json!({"name": "lamp/dim", "seq": 1, "args": [30]}),
            T0,
        ),
        lamp,
    );
    let to_lamp_b = sent_to(
        &line(
            &mut server,
            phone,
            json!({"name": "lamp/dim", "seq": 1, "kw": {"level": 80}}),
            T0,
        ),
        lamp,
    );
    assert_eq!(
        (to_lamp_a.name.as_str(), &to_lamp_a.args[..]),
        ("lamp/dim", &[json!(30)][..])
    );
    assert_eq!(to_lamp_b.kw.get("level"), Some(&json!(80)));
    assert_ne!(to_lamp_a.seq, to_lamp_b.seq);
    assert_eq!(server.pending(), 2);

    // The lamp answers the second call first.
    let reply_b = to_lamp_b.success_reply(json!("at 80"));
    let back = sent_to(&server.receive(lamp, reply_b, secs(1)), phone);
    assert_eq!(
        (back.seq, back.success, back.result),
        (Some(1), Some(true), json!("at 80"))
    );
    let reply_a = to_lamp_a.failure_reply("ValueError", [json!("too dim")]);
    let back = sent_to(&server.receive(lamp, reply_a, secs(1)), panel);
    assert_eq!(
        (back.seq, back.result),
        (Some(1), json!(["ValueError", "too dim"]))
    );
    assert_eq!(server.pending(), 0);

    // A duplicate reply matches nothing.
    let again = to_lamp_a.success_reply(Value::Null);
    let actions = server.receive(lamp, again, secs(1));
    assert_eq!(
        actions,
        vec![Action::Dropped {
            from: lamp,
            reason: LuminaError::UnexpectedReply { seq: to_lamp_a.seq }
        }]
    );
}

#[test]
fn commands_without_seq_are_forwarded_without_bookkeeping() {
    let mut server = server();
    let lamp = node(&mut server, "lamp", &[], &["on"]);
    let panel = server.connect(peer(2), T0);
    let forwarded = sent_to(
        &line(&mut server, panel, json!({"name": "lamp/on"}), T0),
        lamp,
    );
    assert_eq!(forwarded, Message::new("lamp/on"));
    assert_eq!((server.pending(), server.next_deadline()), (0, None));
}

#[test]
fn unanswered_commands_time_out() {
    let mut server = server();
    let lamp = node(&mut server, "lamp", &[], &["on"]);
    let panel = server.connect(peer(2), T0);
    let forwarded = sent_to(
        &line(
            &mut server,
            panel,
            json!({"name": "lamp/on", "seq": 7}),
            secs(5),
        ),
        lamp,
    );
    assert_eq!(server.next_deadline(), Some(secs(15)));

    assert_eq!(server.expire(secs(14)), vec![]);
    let failed = sent_to(&server.expire(secs(15)), panel);
    assert_eq!(
        (failed.name.as_str(), failed.seq, failure_name(&failed)),
        ("lamp/on", Some(7), Some("TimeoutException"))
    );
    assert_eq!(server.expire(secs(100)), vec![]);

    let late = server.receive(lamp, forwarded.success_reply(Value::Null), secs(16));
    assert!(matches!(
        &late[..],
        [Action::Dropped {
            reason: LuminaError::UnexpectedReply { .. },
            ..
        }]
    ));
}

#[test]
fn losing_the_node_fails_its_pending_commands_and_removes_its_declarations() {
    let mut server = server();
    let lamp = node(&mut server, "lamp", &["dimmed"], &["on", "off"]);
    let panel = server.connect(peer(2), T0);
    sent_to(
        &line(&mut server, panel, json!({"name": "lamp/on", "seq": 1}), T0),
        lamp,
    );
    sent_to(
        &line(
            &mut server,
            panel,
            json!({"name": "lamp/off", "seq": 2}),
            T0,
        ),
        lamp,
    );
    let (_, own) = server
        .request("lamp/on", vec![], Map::new(), T0)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(own, Action::Send { to, .. } if to == lamp));

    let actions = server.disconnect(lamp);
    assert_eq!(actions.len(), 4, "{actions:?}");
    let mut failed_seqs: Vec<Option<i64>> = actions[..2]
        .iter()
        .map(|action| match action {
            Action::Send { to, message }
                if *to == panel && failure_name(message) == Some("NoConnectionException") =>
            {
                message.seq
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    failed_seqs.sort();
    assert_eq!(failed_seqs, vec![Some(1), Some(2)]);
    assert!(
        matches!(&actions[2], Action::Reply { message, .. } if failure_name(message) == Some("NoConnectionException"))
    );
    assert!(matches!(
        &actions[3],
        Action::Changed(RegistryChange::Disconnected { .. })
    ));
    assert_eq!(server.pending(), 0);

    let reply = sent_to(
        &line(&mut server, panel, json!({"name": "lamp/on", "seq": 3}), T0),
        panel,
    );
    assert_eq!(failure_name(&reply), Some("UnknownCommandException"));
    let actions = line(&mut server, panel, json!({"name": "lamp/dimmed"}), T0);
    assert!(matches!(
        &actions[..],
        [Action::Dropped {
            reason: LuminaError::UndeclaredEvent(_),
            ..
        }]
    ));
    assert_eq!(
        server.disconnect(lamp),
        vec![],
        "a second disconnect does nothing"
    );
}

#[test]
fn losing_the_caller_forgets_its_requests() {
    let mut server = server();
    let lamp = node(&mut server, "lamp", &[], &["on"]);
    let panel = server.connect(peer(2), T0);
    let forwarded = sent_to(
        &line(&mut server, panel, json!({"name": "lamp/on", "seq": 1}), T0),
        lamp,
    );
    assert_eq!(
        server.disconnect(panel),
        vec![],
        "the panel registered no node"
    );
    assert_eq!(server.pending(), 0);
    let actions = server.receive(lamp, forwarded.success_reply(Value::Null), T0);
    assert!(matches!(&actions[..], [Action::Dropped { .. }]));
    assert_eq!(server.expire(secs(60)), vec![]);
}

#[test]
fn server_requests_get_replies_and_timeouts() {
    let mut server = server();
    let lamp = node(&mut server, "lamp", &[], &["on"]);
    assert_eq!(
        server
            .request("lamp/off", vec![], Map::new(), T0)
            .map(|_| ()),
        Err(LuminaError::UnknownCommand("lamp/off".into()))
    );
    let Ok((first, Action::Send { message: sent, .. })) =
        server.request("lamp/on", vec![json!(1)], Map::new(), T0)
    else {
        panic!("request refused");
    };
    let actions = server.receive(lamp, sent.success_reply(json!("done")), secs(2));
    assert_eq!(
        actions,
        vec![Action::Reply {
            request: first,
            message: Message::new("lamp/on")
                .with_seq(sent.seq.unwrap_or(0))
                .success_reply(json!("done"))
        }]
    );

    let Ok((second, _)) = server.request("lamp/on", vec![], Map::new(), secs(2)) else {
        panic!("request refused");
    };
    assert_ne!(first, second);
    let actions = server.expire(secs(12));
    assert!(
        matches!(&actions[..], [Action::Reply { request, message }] if *request == second && failure_name(message) == Some("TimeoutException"))
    );
}

#[test]
fn info_and_server_describe_nodes_and_identity() {
    let mut server = server();
    let lamp = node(&mut server, "lamp", &["dimmed"], &["on"]);
    node(&mut server, "door", &[], &["open"]);
    line(
        &mut server,
        lamp,
        json!({"name": "status", "args": ["GREEN", "OFF", "ok"]}),
        T0,
    );
    server.disconnect(lamp);
    let client = server.connect(peer(9), T0);

    let info = sent_to(
        &line(&mut server, client, json!({"name": "_info", "seq": 1}), T0),
        client,
    )
    .result;
    assert_eq!(
        (&info["hostname"], &info["hostid"], &info["status"]),
        (&json!("hub"), &json!("hub-1"), &json!("OFF"))
    );
    let nodes = info["nodes"].as_array().map(Vec::len);
    assert_eq!(nodes, Some(2));
    assert_eq!(info["nodes"][0]["name"], json!("lamp"));
    assert_eq!(info["nodes"][0]["link"], json!("disconnected"));
    assert_eq!(info["nodes"][0]["events"], json!([]));
    assert_eq!(info["nodes"][1]["commands"], json!(["door/open"]));
    assert_eq!(info["nodes"][1]["hostid"], json!("door-host"));
    assert_eq!(info["nodes"][1]["sequence"], json!(2));

    let about = sent_to(
        &line(
            &mut server,
            client,
            json!({"name": "_server", "seq": 2}),
            T0,
        ),
        client,
    )
    .result;
    assert_eq!(about["hostid"], json!("hub-1"));
    assert_eq!(about["nodes"], json!(["door"]));
    assert_eq!(about["hosts"], json!(["door-host"]));
    assert_eq!(
        (
            &about["n_connections"],
            &about["n_events"],
            &about["n_commands"]
        ),
        (&json!(2), &json!(0), &json!(1))
    );
}

#[test]
fn keepalives_and_silence() {
    let mut server = server();
    let quiet = server.connect(peer(1), T0);
    let chatty = server.connect(peer(2), T0);
    assert_eq!(server.receive_line(chatty, b"\n", secs(60)), vec![]);
    assert_eq!(server.receive_line(chatty, b"", secs(120)), vec![]);
    assert_eq!(server.silent(secs(179)), vec![]);
    assert_eq!(server.silent(secs(180)), vec![quiet]);
    assert_eq!(server.silent(secs(300)), vec![quiet, chatty]);
}

#[test]
fn malformed_lines_and_unknown_connections_are_dropped() {
    let mut server = server();
    let conn = server.connect(peer(1), T0);
    let actions = server.receive_line(conn, b"{\"name\": ", T0);
    assert!(
        matches!(&actions[..], [Action::Dropped { reason: LuminaError::MalformedJson(text), .. }] if text.contains("EOF")),
        "{actions:?}"
    );
    server.disconnect(conn);
    let actions = server.receive_line(conn, b"{\"name\":\"serverid\",\"seq\":1}", T0);
    assert_eq!(
        actions,
        vec![Action::Dropped {
            from: conn,
            reason: LuminaError::UnknownConnection(conn)
        }]
    );
}

#[test]
fn table_errors_name_the_holder() {
    let mut server = server();
    node(&mut server, "lamp", &[], &[]);
    let other = server.connect(peer(7), T0);
    let actions = line(
        &mut server,
        other,
        json!({"name": "register", "kw": {"node": "lamp"}}),
        T0,
    );
    assert_eq!(
        actions,
        vec![Action::Dropped {
            from: other,
            reason: LuminaError::Table(TableError::NameTaken {
                name: "lamp".into(),
                peer: peer(40000).ip()
            })
        }]
    );
}

#[test]
fn the_table_cap_refuses_more_nodes_naming_the_limit() {
    let identity = ServerIdentity::default();
    let mut server = Dispatcher::new(
        identity,
        DispatcherConfig::default(),
        NodeTable::default().max_nodes(1),
    );
    node(&mut server, "lamp", &[], &[]);
    let other = server.connect(peer(2), T0);
    let reply = sent_to(
        &line(
            &mut server,
            other,
            json!({"name": "register", "seq": 1, "kw": {"node": "door"}}),
            T0,
        ),
        other,
    );
    assert_eq!(failure_name(&reply), Some("NodeConfigException"));
    assert!(
        reply.result[1]
            .as_str()
            .is_some_and(|why| why.contains("`max_nodes`")),
        "{reply:?}"
    );
    assert_eq!(server.table().len(), 1);
}

#[test]
fn events_from_another_connection_are_refused_and_change_nothing() {
    let mut server = server();
    let sensor = node(&mut server, "sensor", &["motion"], &[]);
    let stranger = server.connect(peer(2), T0);
    let actions = line(&mut server, stranger, json!({"name": "sensor/motion"}), T0);
    assert_eq!(
        actions,
        vec![Action::Dropped {
            from: stranger,
            reason: LuminaError::ForeignEvent {
                event: "sensor/motion".into(),
                owner: sensor
            }
        }]
    );
}

#[test]
fn forgotten_nodes_free_their_names_after_the_retention() {
    let mut server = server();
    let lamp = node(&mut server, "lamp", &[], &[]);
    server.receive_line(lamp, b"\n", secs(10));
    server.disconnect(lamp);
    assert_eq!(server.next_deadline(), Some(secs(10 + 3600)));
    assert_eq!(server.expire(secs(10 + 3599)), vec![]);
    let actions = server.expire(secs(10 + 3600));
    assert!(
        matches!(&actions[..], [Action::Changed(RegistryChange::Forgotten { name: Some(name), .. })] if name == "lamp"),
        "{actions:?}"
    );
    assert!(server.table().is_empty());
    assert_eq!(server.next_deadline(), None);
}
