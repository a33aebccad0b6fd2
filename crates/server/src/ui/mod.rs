//! The dashboard's content, apart from serving it: its files under `assets/` (the
//! single page application, the public status page, their scripts and styles,
//! compiled into the binary and served by the HTTP surface's `pages.rs`; `view.js`
//! shows telemetry values with their structure, never as JSON text) and the SVG
//! drawing of its charts and dependency graph ([`svg`]), pure functions of the figures
//! the API reads.

pub mod svg;
