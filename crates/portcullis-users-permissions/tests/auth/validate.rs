//! Unit tests of the yup-style checks.

use serde_json::json;

use portcullis_users_permissions::error::ApiError;
use portcullis_users_permissions::validate::*;

fn messages(err: &ApiError) -> Vec<String> {
    err.details["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["message"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn print_value_matches_yup() {
    assert_eq!(print_value(&json!(123)), "123");
    assert_eq!(print_value(&json!(1.5)), "1.5");
    assert_eq!(print_value(&json!(2.0)), "2");
    assert_eq!(print_value(&json!(null)), "null");
    assert_eq!(print_value(&json!(true)), "true");
    assert_eq!(print_value(&json!("a")), "\"a\"");
    assert_eq!(print_value(&json!({})), "{}");
    assert_eq!(print_value(&json!([])), "[]");
    assert_eq!(print_value(&json!({"$gt": 0})), "{\n  \"$gt\": \"0\"\n}");
    assert_eq!(
        print_value(&json!([1, "x", {"a": null}])),
        "[\n  \"1\",\n  \"\\\"x\\\"\",\n  {\n    \"a\": \"null\"\n  }\n]"
    );
}

#[test]
fn strict_string_type_errors() {
    let body = json!({"identifier": "alice", "password": 123});
    let mut y = Yup::object(&body).unwrap();
    assert_eq!(y.required_string("identifier"), Some("alice"));
    assert_eq!(y.required_string("password"), None);
    let err = y.finish().unwrap_err();
    assert_eq!(
        err.message,
        "password must be a `string` type, but the final value was: `123`."
    );
    assert_eq!(err.details["errors"][0]["value"], json!(123));
}

#[test]
fn required_missing_and_empty() {
    let body = json!({"b": ""});
    let mut y = Yup::object(&body).unwrap();
    y.required_string("a");
    y.required_string("b");
    let err = y.finish().unwrap_err();
    assert_eq!(err.message, "2 errors occurred");
    assert_eq!(
        messages(&err),
        ["a is a required field", "b is a required field"]
    );
    assert!(err.details["errors"][0].get("value").is_none());
    assert_eq!(err.details["errors"][1]["value"], json!(""));
}

#[test]
fn non_object_bodies() {
    let err = Yup::object(&json!([1])).err().unwrap();
    assert_eq!(
        err.message,
        "this must be a `object` type, but the final value was: `[\n  \"1\"\n]`."
    );
    assert_eq!(err.details["errors"][0]["path"], json!([]));
}

#[test]
fn no_unknown_comes_last() {
    let body = json!({"foo": 1, "bar": 2});
    let mut y = Yup::object(&body).unwrap();
    y.required_email("email");
    y.no_unknown(&["email"]);
    let err = y.finish().unwrap_err();
    assert_eq!(
        messages(&err),
        [
            "email is a required field",
            "this field has unspecified keys: foo, bar"
        ]
    );
    assert_eq!(err.details["errors"][1]["path"], json!([]));
}

#[test]
fn confirmation_rules() {
    let check = |body: serde_json::Value| {
        let mut y = Yup::object(&body).unwrap();
        y.confirmation("passwordConfirmation", "password");
        y.finish().err().map(|e| messages(&e)).unwrap_or_default()
    };
    assert!(check(json!({"password": "abcdef", "passwordConfirmation": "abcdef"})).is_empty());
    assert_eq!(
        check(json!({"password": "abcdef", "passwordConfirmation": "x"})),
        ["Passwords do not match"]
    );
    assert_eq!(
        check(json!({"password": "abcdef"})),
        ["passwordConfirmation is a required field"]
    );
    assert_eq!(
        check(json!({"password": "", "passwordConfirmation": ""})),
        ["passwordConfirmation is a required field"]
    );
    assert_eq!(
        check(json!({"password": "1", "passwordConfirmation": 1})),
        [
            "passwordConfirmation must be a `string` type, but the final value was: `1`.",
            "Passwords do not match"
        ]
    );
}

#[test]
fn password_byte_limit() {
    let ok = "a".repeat(72);
    let long = format!("{}€", "a".repeat(70));
    assert_eq!(long.len(), 73);
    let body = json!({"a": ok, "b": long});
    let mut y = Yup::object(&body).unwrap();
    assert!(y.required_password("a").is_some());
    assert!(y.required_password("b").is_none());
    assert_eq!(
        messages(&y.finish().unwrap_err()),
        ["Password must be less than 73 bytes"]
    );
}

#[test]
fn emails_as_yup_sees_them() {
    for good in [
        "alice@example.com",
        "a@b.co",
        "a@b.c",
        "Bob@Example.COM",
        "first.last+tag@sub.example.org",
        "\"quoted@local\"@example.com",
        "x@a-b.c_d~e.fr",
        "été@exemple.fr",
    ] {
        assert!(is_email(good), "{good}");
    }
    for bad in [
        "x",
        "",
        "@example.com",
        "a@",
        "a@b",
        "a@b.1",
        "a@-b.com",
        "a..b@example.com",
        ".a@example.com",
        "a b@example.com",
        "a@b .com",
        "a@@b.com",
        "a@b.com.",
        "\"unterminated@example.com",
        "😀@example.com",
    ] {
        assert!(!is_email(bad), "{bad}");
    }
}

#[test]
fn entity_lengths_count_utf16() {
    let mut errors = Vec::new();
    min_chars(&mut errors, "username", "ab", 3);
    min_chars(&mut errors, "username", "😀a", 3);
    max_chars(&mut errors, "username", &"a".repeat(256), 255);
    let msgs: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "username must be at least 3 characters",
            "username must be at most 255 characters"
        ]
    );
}
