//! `/api/openapi.json`: the JSON API described in OpenAPI 3.1, assembled from the fragments
//! under `openapi/` (one per area, written next to its handlers) at start-up.

use axum::Json;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::AppState;

/// The fragments: `{ "paths": {...}, "components": { "schemas": {...}, ... } }` each; every
/// kind of component (schemas, parameters, responses) a fragment declares is carried over.
const FRAGMENTS: [(&str, &str); 4] = [
    ("tickets", include_str!("openapi/tickets.json")),
    ("campaigns", include_str!("openapi/campaigns.json")),
    ("console", include_str!("openapi/console.json")),
    ("admin", include_str!("openapi/admin.json")),
];

pub(super) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/api/openapi.json", get(|| async { Json(document()) }))
}

/// The whole document. A fragment that does not parse, a path described twice, or a schema
/// name used for two different schemas is a bug the unit test below catches.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut components: Map<String, Value> = Map::new();
    for (name, text) in FRAGMENTS {
        let fragment: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("openapi/{name}.json does not parse: {e}"));
        if let Some(p) = fragment["paths"].as_object() {
            for (path, item) in p {
                paths.insert(path.clone(), item.clone());
            }
        }
        if let Some(kinds) = fragment["components"].as_object() {
            for (kind, entries) in kinds {
                let into = components
                    .entry(kind.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let (Some(into), Some(entries)) = (into.as_object_mut(), entries.as_object()) {
                    for (entry, body) in entries {
                        into.insert(entry.clone(), body.clone());
                    }
                }
            }
        }
    }
    components.insert(
        "securitySchemes".into(),
        json!({
            "bearer": { "type": "http", "scheme": "bearer" },
            "cookie": { "type": "apiKey", "in": "cookie", "name": super::auth::COOKIE }
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "huifang (回访) API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The console's JSON API: tickets, look-ups, campaigns and their live \
                wallboard, reports, the agent desktop. Log in with POST /api/session and send \
                `Authorization: Bearer TOKEN`; a browser's session cookie works too, and then \
                every write needs the `x-csrf-token` header (GET /api/session gives it)."
        },
        "security": [{ "bearer": [] }, { "cookie": [] }],
        "paths": paths,
        "components": components
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every web module's source, read from the folder so that a module
    /// split off later cannot hide its routes from this test.
    fn sources() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let mut sources: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
            .map(|path| std::fs::read_to_string(&path).unwrap())
            .collect();
        assert!(sources.len() >= 11, "found only {} modules", sources.len());
        sources.sort();
        sources
    }

    fn declared_api_routes() -> Vec<String> {
        let mut routes = Vec::new();
        for source in sources() {
            for piece in source.split(".route(").skip(1) {
                let piece = piece.trim_start().trim_start_matches('"');
                let path = piece.split('"').next().unwrap_or("");
                if path.starts_with("/api/") && !routes.iter().any(|r| r == path) {
                    routes.push(path.to_string());
                }
            }
        }
        routes
    }

    #[test]
    fn every_api_route_is_described_and_every_reference_resolves() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let routes = declared_api_routes();
        assert!(routes.len() >= 15, "found only {routes:?}");
        for route in &routes {
            assert!(
                paths.contains_key(route),
                "{route} is not in the OpenAPI document"
            );
        }
        for path in paths.keys() {
            assert!(
                routes.contains(path),
                "{path} is described but no handler serves it"
            );
        }
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 50, "found only {} references", found.len());
        let broken: Vec<&String> = found
            .iter()
            .filter(|r| {
                r.strip_prefix('#')
                    .is_none_or(|pointer| doc.pointer(pointer).is_none())
            })
            .collect();
        assert!(broken.is_empty(), "unresolved references: {broken:?}");
    }

    /// Every `$ref` in `value`.
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn fragments_agree_on_shared_schema_names() {
        let mut seen: Map<String, Value> = Map::new();
        let mut paths = 0;
        for (name, text) in FRAGMENTS {
            let fragment: Value = serde_json::from_str(text).unwrap();
            paths += fragment["paths"].as_object().map_or(0, Map::len);
            for (schema, body) in fragment["components"]["schemas"].as_object().unwrap() {
                if let Some(earlier) = seen.get(schema) {
                    assert_eq!(
                        earlier, body,
                        "{name}: schema {schema} differs from an earlier one"
                    );
                }
                seen.insert(schema.clone(), body.clone());
            }
        }
        assert_eq!(
            document()["paths"].as_object().unwrap().len(),
            paths,
            "a path is described twice"
        );
    }
}
