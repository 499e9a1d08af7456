//! The kvstore server against the real Redis tools: `redis-cli` round trips for every
//! command and its error replies, protocol errors on a raw socket, a store crash, and
//! a short `redis-benchmark` run. Skipped, with a message, where `redis-cli` is not
//! installed (`.ci/run` installs it).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use axon::Runtime;
use chassis::tcp::ServerConfig;
use components::resp::{RespOptions, RespStats, kvstore_server, supervised_store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest any one tool invocation may take.
const TOOL_LIMIT: &str = "20";

/// A kvstore (store and server) on a free loopback port; the runtime lives as long as
/// the test's.
fn start(rt: &Runtime, options: RespOptions) -> SocketAddr {
    std::mem::forget(rt.spawn(supervised_store(1 << 30)).expect("store"));
    let config = ServerConfig::new("127.0.0.1:0".parse().expect("address"));
    let server = kvstore_server(config, options, RespStats::default()).expect("bind");
    let addr = server.local_addr();
    std::mem::forget(rt.spawn(server).expect("server"));
    addr
}

fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: `{tool}` is not installed (apt-get install redis-tools)");
    }
    found
}

/// Run `redis-cli --no-raw` with `args` against `addr` (bounded by `timeout`) and
/// return what it prints.
async fn cli(addr: SocketAddr, args: &[&str]) -> String {
    let mut command = Command::new("timeout");
    command
        .args([TOOL_LIMIT, "redis-cli", "--no-raw", "-h", "127.0.0.1", "-p"])
        .arg(addr.port().to_string())
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("joined")
        .expect("redis-cli runs");
    assert!(output.status.success(), "redis-cli {args:?}: {output:?}");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim_end()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_round_trips_through_redis_cli() {
    if !have("redis-cli") {
        return;
    }
    let rt = Runtime::new();
    let addr = start(&rt, RespOptions::default());
    let cases: &[(&[&str], &str)] = &[
        (&["PING"], "PONG"),
        (&["PING", "hi there"], "\"hi there\""),
        (&["ECHO", "hello"], "\"hello\""),
        (&["SET", "k", "v"], "OK"),
        (&["GET", "k"], "\"v\""),
        (&["GET", "missing"], "(nil)"),
        (&["SET", "k", "w", "NX"], "(nil)"),
        (&["SET", "k", "w", "XX"], "OK"),
        (&["SET", "other", "w", "XX"], "(nil)"),
        (&["SET", "other", "w", "NX"], "OK"),
        (&["SET", "t", "v", "EX", "100"], "OK"),
        (&["SET", "p", "v", "PX", "100000"], "OK"),
        (&["TTL", "k"], "(integer) -1"),
        (&["TTL", "missing"], "(integer) -2"),
        (&["EXPIRE", "k", "50"], "(integer) 1"),
        (&["EXPIRE", "missing", "50"], "(integer) 0"),
        (&["INCR", "n"], "(integer) 1"),
        (&["INCR", "n"], "(integer) 2"),
        (&["DECR", "n"], "(integer) 1"),
        (&["DECR", "m"], "(integer) -1"),
        (&["MSET", "a", "1", "b", "2"], "OK"),
        (
            &["MGET", "a", "missing", "b"],
            "1) \"1\"\n2) (nil)\n3) \"2\"",
        ),
        (&["EXISTS", "a", "b", "a", "missing"], "(integer) 3"),
        (&["DEL", "a", "missing"], "(integer) 1"),
        (&["DBSIZE"], "(integer) 7"),
        (&["FLUSHDB"], "OK"),
        (&["DBSIZE"], "(integer) 0"),
        (&["KEYS", "*"], "(empty array)"),
        (&["QUIT"], "OK"),
    ];
    for (args, want) in cases {
        if args[0] == "DBSIZE" && *want == "(integer) 7" {
            // Checked here, between the writes and FLUSHDB: times to live and KEYS.
            for (key, most) in [("t", 100), ("p", 100), ("k", 50)] {
                let ttl = cli(addr, &["TTL", key]).await;
                let secs: i64 = ttl.trim_start_matches("(integer) ").parse().expect(&ttl);
                assert!((most - 1..=most).contains(&secs), "TTL {key}: {ttl}");
            }
            let keys = cli(addr, &["KEYS", "[bm]"]).await;
            let mut keys: Vec<&str> = keys.lines().map(|l| &l[3..]).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["\"b\"", "\"m\""], "KEYS [bm]");
        }
        assert_eq!(&cli(addr, args).await, want, "redis-cli {args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_replies_are_worded_as_redis_words_them() {
    if !have("redis-cli") {
        return;
    }
    let rt = Runtime::new();
    let addr = start(&rt, RespOptions::default());
    cli(addr, &["SET", "text", "abc"]).await;
    cli(addr, &["SET", "max", "9223372036854775807"]).await;
    let cases: &[(&[&str], &str)] = &[
        (
            &["FOO", "a", "b"],
            "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ",
        ),
        (&["GET"], "ERR wrong number of arguments for 'get' command"),
        (
            &["SET", "k"],
            "ERR wrong number of arguments for 'set' command",
        ),
        (
            &["MSET", "a", "1", "b"],
            "ERR wrong number of arguments for 'mset' command",
        ),
        (
            &["PING", "a", "b"],
            "ERR wrong number of arguments for 'ping' command",
        ),
        (
            &["DBSIZE", "x"],
            "ERR wrong number of arguments for 'dbsize' command",
        ),
        (
            &["INCR", "text"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["DECR", "text"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["INCR", "max"],
            "ERR increment or decrement would overflow",
        ),
        (&["SET", "k", "v", "NX", "XX"], "ERR syntax error"),
        (&["SET", "k", "v", "EX"], "ERR syntax error"),
        (&["SET", "k", "v", "EX", "1", "PX", "1"], "ERR syntax error"),
        (
            &["SET", "k", "v", "EX", "ten"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["SET", "k", "v", "EX", "0"],
            "ERR invalid expire time in 'set' command",
        ),
        (
            &["EXPIRE", "text", "soon"],
            "ERR value is not an integer or out of range",
        ),
        (&["EXPIRE", "text", "10", "ZZ"], "ERR Unsupported option ZZ"),
        (&["FLUSHDB", "now"], "ERR syntax error"),
        (
            &["DEBUG", "CRASH"],
            "ERR DEBUG command not allowed on this server",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(
            cli(addr, args).await,
            format!("(error) {}", want.trim_end()),
            "redis-cli {args:?}"
        );
    }
    // redis-cli trims the unknown-command reply's trailing blank; the wire keeps it.
    assert_eq!(
        raw(addr, b"FOO a b\r\nQUIT\r\n").await,
        "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n+OK\r\n"
    );
    // No error changed anything.
    assert_eq!(cli(addr, &["GET", "text"]).await, "\"abc\"");
    assert_eq!(cli(addr, &["DBSIZE"]).await, "(integer) 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_debug_crash_the_supervisor_restarts_the_store_and_get_answers() {
    if !have("redis-cli") {
        return;
    }
    let rt = Runtime::new();
    let addr = start(&rt, RespOptions::default().allow_crash(true));
    assert_eq!(cli(addr, &["SET", "k", "v"]).await, "OK");
    let mut events = rt.subscribe();
    cli(addr, &["DEBUG", "CRASH"]).await;
    // The supervisor starts a new, empty store; the same connection-per-command
    // clients reach it through the service name, with no error.
    assert_eq!(
        cli(addr, &["GET", "k"]).await,
        "(nil)",
        "the data went with the store"
    );
    assert_eq!(cli(addr, &["SET", "k", "w"]).await, "OK");
    assert_eq!(cli(addr, &["GET", "k"]).await, "\"w\"");
    let restarted = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(axon::GraphEvent::Restarted {
                child, restarts, ..
            }) = events.recv().await
            {
                return (child, restarts);
            }
        }
    })
    .await
    .expect("a Restarted event");
    assert_eq!(restarted, ("store".to_string(), 1));
    // A second crash is survived as well, within the supervisor's intensity.
    cli(addr, &["DEBUG", "CRASH"]).await;
    assert_eq!(cli(addr, &["DBSIZE"]).await, "(integer) 0");
    assert_eq!(
        cli(addr, &["PING"]).await,
        "PONG",
        "the server keeps serving"
    );
}

/// Send `request` on a fresh connection and read until the server closes it.
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let exchange = async {
        let mut socket = tokio::net::TcpStream::connect(addr).await?;
        socket.write_all(request).await?;
        let mut reply = Vec::new();
        socket.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("the server closes the connection")
        .expect("loopback i/o");
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_are_answered_then_the_connection_closes() {
    let rt = Runtime::new();
    let addr = start(&rt, RespOptions::default().max_bulk(1024).max_array(8));
    let cases: &[(&[u8], &str)] = &[
        (
            b"*1\r\n+PING\r\n",
            "-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"*x\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*9\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n$1025\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"SET \"a b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        // Commands before the bad frame are answered first; QUIT closes cleanly.
        (
            b"PING\r\n*1\r\n$-2\r\n",
            "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
        ),
        (b"PING\r\nQUIT\r\nPING\r\n", "+PONG\r\n+OK\r\n"),
    ];
    for (request, want) in cases {
        assert_eq!(
            &raw(addr, request).await,
            want,
            "for {:?}",
            String::from_utf8_lossy(request)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_benchmark_runs_without_errors() {
    if !have("redis-benchmark") {
        return;
    }
    let rt = Runtime::new();
    let addr = start(&rt, RespOptions::default());
    let mut command = Command::new("timeout");
    command
        .args(["60", "redis-benchmark", "-h", "127.0.0.1", "-p"])
        .arg(addr.port().to_string())
        .args(["-t", "set,get", "-n", "2000", "-q"]);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("joined")
        .expect("redis-benchmark runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "redis-benchmark: {stdout}\n{stderr}"
    );
    for test in ["SET:", "GET:"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(test) && l.contains("requests per second")),
            "{test} finished: {stdout}"
        );
    }
    assert!(
        !stdout.to_lowercase().contains("error") && !stderr.to_lowercase().contains("error"),
        "no errors: {stdout}\n{stderr}"
    );
    assert_eq!(
        cli(addr, &["DBSIZE"]).await,
        "(integer) 1",
        "the benchmark's one key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_of_many_reads_round_trips_byte_for_byte() {
    let rt = Runtime::new();
    let addr = start(&rt, RespOptions::default());
    let value: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut request = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n", value.len()).into_bytes();
    request.extend_from_slice(&value);
    request.extend_from_slice(b"\r\n*2\r\n$3\r\nGET\r\n$3\r\nbig\r\nQUIT\r\n");
    let mut want = format!("+OK\r\n${}\r\n", value.len()).into_bytes();
    want.extend_from_slice(&value);
    want.extend_from_slice(b"\r\n+OK\r\n");
    let exchange = async {
        let mut socket = tokio::net::TcpStream::connect(addr).await?;
        let (mut rd, mut wr) = socket.split();
        let write = async {
            wr.write_all(&request).await?;
            Ok::<_, std::io::Error>(())
        };
        let mut reply = Vec::new();
        let (written, read) = tokio::join!(write, rd.read_to_end(&mut reply));
        written?;
        read?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .expect("answered and closed")
        .expect("loopback i/o");
    assert_eq!(reply.len(), want.len());
    assert!(reply == want, "the 4 MiB value came back changed");
}
