//! The JSON a run writes validates against the checked-in JSON Schema
//! (`client/schema/run-report.schema.json`), so the schema cannot drift from `RunReport`.
//!
//! The validator below implements just the keywords that schema uses (`type`, `enum`,
//! `required`, `properties`, `additionalProperties`, `minimum`, `oneOf`, `$ref` into `$defs`).

use serde_json::Value;

use rtlab_client::RunReport;
use rtlab_client::report::SCHEMA_JSON;
use rtlab_wire::Transport;

use crate::common::{server, short_run};

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

fn validate(root: &Value, schema: &Value, v: &Value, path: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/$defs/")
            .ok_or(format!("unsupported $ref {r}"))?;
        return validate(root, &root["$defs"][name], v, path);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = options
            .iter()
            .filter(|s| validate(root, s, v, path).is_ok())
            .count();
        return if ok == 1 {
            Ok(())
        } else {
            Err(format!("{path}: {ok} of oneOf match"))
        };
    }
    match schema.get("type") {
        Some(Value::String(t)) if !type_matches(t, v) => {
            return Err(format!("{path}: not {t}: {v}"));
        }
        Some(Value::Array(ts))
            if !ts
                .iter()
                .any(|t| t.as_str().is_some_and(|t| type_matches(t, v))) =>
        {
            return Err(format!("{path}: none of {ts:?}: {v}"));
        }
        _ => {}
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        return Err(format!("{path}: {v} not in {allowed:?}"));
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        return Err(format!("{path}: {n} < {min}"));
    }
    if let Some(obj) = v.as_object() {
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = key.as_str().unwrap_or_default();
            if !obj.contains_key(key) {
                return Err(format!("{path}: missing {key}"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (key, value) in obj {
            let sub = format!("{path}.{key}");
            match (
                props.and_then(|p| p.get(key)),
                schema.get("additionalProperties"),
            ) {
                (Some(s), _) => validate(root, s, value, &sub)?,
                (None, Some(Value::Bool(false))) => {
                    return Err(format!("{sub}: not in the schema"));
                }
                (None, Some(s @ Value::Object(_))) => validate(root, s, value, &sub)?,
                (None, _) => {}
            }
        }
    }
    Ok(())
}

fn check(report: &RunReport) -> Result<(), String> {
    check_json(&serde_json::to_value(report).unwrap())
}

/// Validates a report as JSON (e.g. the file `--json` wrote) against the checked-in schema.
pub fn check_json(value: &Value) -> Result<(), String> {
    let schema: Value = serde_json::from_str(SCHEMA_JSON).expect("the schema is JSON");
    validate(&schema, &schema, value, "$")
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
    let schema: Value = serde_json::from_str(SCHEMA_JSON).unwrap();
    let mut value = serde_json::to_value(RunReport {
        clients: 1,
        schema_version: 1,
        ..RunReport::default()
    })
    .unwrap();
    value["renamed_field"] = Value::from(1);
    assert!(validate(&schema, &schema, &value, "$").is_err());
    value.as_object_mut().unwrap().remove("renamed_field");
    value["wire"].as_object_mut().unwrap().remove("bytes_down");
    assert!(validate(&schema, &schema, &value, "$").is_err());
    value["wire"]["bytes_down"] = Value::from("many");
    assert!(validate(&schema, &schema, &value, "$").is_err());
    value["wire"]["bytes_down"] = Value::from(1);
    value["undelivered"] = Value::from(-1);
    assert!(validate(&schema, &schema, &value, "$").is_err());
    value["undelivered"] = Value::Null;
    value["window_mode"] = Value::from("by-guesswork");
    assert!(validate(&schema, &schema, &value, "$").is_err());
    value["window_mode"] = Value::from("seq-range");
    assert!(validate(&schema, &schema, &value, "$").is_ok());
}
