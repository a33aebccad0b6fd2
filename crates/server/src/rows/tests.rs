use super::*;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

#[test]
fn direct_json_equals_serde_json() {
    use any_value::Value as V;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    let attrs = vec![
        kv("plain", V::StringValue("hello".into())),
        kv(
            "escapes \" \\ \n",
            V::StringValue("tab\tquote\"back\\slash\u{1}ünï ✓".into()),
        ),
        kv("int", V::IntValue(i64::MIN)),
        kv("double", V::DoubleValue(0.1)),
        kv("big double", V::DoubleValue(1e300)),
        kv("nan", V::DoubleValue(f64::NAN)),
        kv("bool", V::BoolValue(false)),
        kv("bytes", V::BytesValue(vec![0, 255])),
        kv(
            "array",
            V::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(V::IntValue(1)),
                    },
                    AnyValue { value: None },
                ],
            }),
        ),
        kv(
            "map",
            V::KvlistValue(KeyValueList {
                values: vec![
                    kv("inner", V::StringValue("x".into())),
                    kv("", V::BoolValue(true)),
                ],
            }),
        ),
        KeyValue {
            key: "missing".into(),
            value: None,
            ..Default::default()
        },
        kv("plain", V::StringValue("last one wins".into())),
    ];
    let direct: Json = serde_json::from_str(&attributes_json(&attrs)).expect("valid JSON");
    assert_eq!(direct, attributes_to_json(&attrs));
    assert_eq!(direct["plain"], "last one wins");
    assert_eq!(attributes_json(&[]), "{}");
}
