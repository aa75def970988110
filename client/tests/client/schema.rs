//! The JSON a run writes validates against the checked-in JSON Schema
//! (`client/schema/run-report.schema.json`, embedded as [`SCHEMA_JSON`]), so the schema cannot
//! drift from `RunReport`.
//!
//! Validation is the `jsonschema` crate's, as in `bench`: a full draft 2020-12 validator rather
//! than a hand-written subset, so a keyword the schema starts using is checked too.

use serde_json::Value;

use rtlab_client::RunReport;
use rtlab_client::report::SCHEMA_JSON;
use rtlab_wire::Transport;

use crate::common::{server, short_run};

/// The checked-in schema, compiled; a schema that is not valid JSON Schema fails here.
fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA_JSON).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

fn check(report: &RunReport) -> Result<(), String> {
    check_json(&serde_json::to_value(report).unwrap())
}

/// Validates a report as JSON (e.g. the file `--json` wrote) against the checked-in schema;
/// the error lists every violation with where it is.
pub fn check_json(value: &Value) -> Result<(), String> {
    let errors: Vec<String> = validator()
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_reports_validate_against_the_schema() {
    let server = server(20.0).await;
    for (transport, publish) in [(Transport::Ws, Some(5.0)), (Transport::ShortPoll, None)] {
        let config = rtlab_client::RunConfig {
            clients: 3,
            duration: std::time::Duration::from_millis(400),
            warmup: std::time::Duration::from_millis(100),
            publish_rate: publish,
            ..short_run(&server, transport)
        };
        let report = rtlab_client::run(config).await.unwrap();
        check(&report).unwrap_or_else(|e| panic!("{transport}: {e}"));
        // The delivery-by-seq fields are filled in a real run, and described by the schema.
        let (s0, s1) = (report.window_seq_start, report.window_seq_end);
        assert!(s0.is_some() && s1 >= s0, "{transport}: {s0:?} {s1:?}");
        assert!(report.undelivered.is_some(), "{transport}");
        assert_eq!(
            report.window_mode,
            Some(rtlab_client::report::WindowMode::ExactBySeq),
            "{transport}"
        );
        assert_eq!(report.window_fallback_reason, None, "{transport}");
    }
    server.shutdown().await.ok();
    check(&RunReport {
        clients: 1,
        schema_version: 1,
        ..RunReport::default()
    })
    .unwrap();
}

#[test]
fn the_validator_rejects_drift() {
    let mut value = serde_json::to_value(RunReport {
        clients: 1,
        schema_version: 1,
        ..RunReport::default()
    })
    .unwrap();
    value["renamed_field"] = Value::from(1);
    assert!(check_json(&value).is_err(), "{value}");
    value.as_object_mut().unwrap().remove("renamed_field");
    value["wire"].as_object_mut().unwrap().remove("bytes_down");
    assert!(check_json(&value).is_err(), "{value}");
    value["wire"]["bytes_down"] = Value::from("many");
    assert!(check_json(&value).is_err(), "{value}");
    value["wire"]["bytes_down"] = Value::from(1);
    value["undelivered"] = Value::from(-1);
    assert!(check_json(&value).is_err(), "{value}");
    value["undelivered"] = Value::Null;
    value["window_mode"] = Value::from("by-guesswork");
    assert!(check_json(&value).is_err(), "{value}");
    value["window_mode"] = Value::from("seq-range");
    check_json(&value).unwrap();
}
