//! The consent decision: whether a program may send telemetry, and which rule said so.
//!
//! Order of decision, first match wins:
//! 1. opt-out: `AUTOMAGIK_TELEMETRY_ENABLED=false`, `DO_NOT_TRACK`, `OTEL_SDK_DISABLED=true`,
//!    the file `~/.automagik-no-telemetry`, or consent revoked in code;
//! 2. development (`ENVIRONMENT` is `development`, `dev` or `test`, or `CI` is set):
//!    disabled unless `AUTOMAGIK_TELEMETRY_ENABLED=true`;
//! 3. opt-in: `AUTOMAGIK_TELEMETRY_ENABLED=true` or consent given in code;
//! 4. the program's chosen default, else the library's: disabled.

use crate::parse::{ParseError, parse_bool};
use std::fmt;
use std::path::PathBuf;

/// Name of the opt-out file in the user's home directory.
pub const OPT_OUT_FILE: &str = ".automagik-no-telemetry";
/// The explicit consent variable.
pub const ENABLED_VAR: &str = "AUTOMAGIK_TELEMETRY_ENABLED";

/// The rule that decided.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsentRule {
    /// An environment variable opted out; names the variable.
    OptOutVariable(&'static str),
    /// The opt-out file exists at this path.
    OptOutFile(PathBuf),
    /// The program revoked consent in code.
    RevokedInCode,
    /// A development or CI environment; names the variable that said so.
    Development(&'static str),
    /// `AUTOMAGIK_TELEMETRY_ENABLED=true`.
    OptInVariable,
    /// The program granted consent in code.
    GrantedInCode,
    /// The program's chosen default.
    ProgramDefault,
    /// Nothing said anything: the library's default, disabled.
    LibraryDefault,
}

/// Whether telemetry is enabled, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentDecision {
    /// Whether anything may be sent.
    pub enabled: bool,
    /// The rule that decided.
    pub rule: ConsentRule,
}

impl fmt::Display for ConsentDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.enabled { "enabled" } else { "disabled" };
        match &self.rule {
            ConsentRule::OptOutVariable(v) => write!(f, "{state}: opted out by {v}"),
            ConsentRule::OptOutFile(p) => write!(f, "{state}: opt-out file {} exists", p.display()),
            ConsentRule::RevokedInCode => write!(f, "{state}: consent revoked by the program"),
            ConsentRule::Development(v) => {
                write!(
                    f,
                    "{state}: development environment ({v}); set {ENABLED_VAR}=true to send"
                )
            }
            ConsentRule::OptInVariable => write!(f, "{state}: {ENABLED_VAR}=true"),
            ConsentRule::GrantedInCode => write!(f, "{state}: consent granted by the program"),
            ConsentRule::ProgramDefault => write!(f, "{state}: the program's default"),
            ConsentRule::LibraryDefault => {
                write!(
                    f,
                    "{state}: no consent given (set {ENABLED_VAR}=true or grant it in code)"
                )
            }
        }
    }
}

/// What the decision is made from. The caller gathers it (environment, file system);
/// the decision itself does no I/O.
#[derive(Clone, Debug, Default)]
pub struct ConsentInputs {
    /// `AUTOMAGIK_TELEMETRY_ENABLED`.
    pub enabled_var: Option<String>,
    /// `DO_NOT_TRACK`.
    pub do_not_track: Option<String>,
    /// `OTEL_SDK_DISABLED`.
    pub otel_sdk_disabled: Option<String>,
    /// `ENVIRONMENT`.
    pub environment: Option<String>,
    /// `CI`.
    pub ci: Option<String>,
    /// The opt-out file's path, when it exists.
    pub opt_out_file: Option<PathBuf>,
    /// Consent given (`true`) or revoked (`false`) in code.
    pub in_code: Option<bool>,
    /// The program's default when nothing else decides.
    pub program_default: Option<bool>,
}

impl ConsentInputs {
    /// Reads the variables through `lookup` (for example `std::env::var`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        ConsentInputs {
            enabled_var: lookup(ENABLED_VAR),
            do_not_track: lookup("DO_NOT_TRACK"),
            otel_sdk_disabled: lookup("OTEL_SDK_DISABLED"),
            environment: lookup("ENVIRONMENT"),
            ci: lookup("CI"),
            ..Default::default()
        }
    }
}

fn is_set(v: &Option<String>) -> bool {
    v.as_deref()
        .map(str::trim)
        .is_some_and(|s| !s.is_empty() && s != "0" && !s.eq_ignore_ascii_case("false"))
}

/// Decides. A malformed `AUTOMAGIK_TELEMETRY_ENABLED` or `OTEL_SDK_DISABLED` is an error
/// naming the variable, never a silent default.
pub fn decide(inputs: &ConsentInputs) -> Result<ConsentDecision, ParseError> {
    let explicit = inputs
        .enabled_var
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_bool(ENABLED_VAR, s))
        .transpose()?;
    let otel_disabled = inputs
        .otel_sdk_disabled
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_bool("OTEL_SDK_DISABLED", s))
        .transpose()?;
    let off = |rule| {
        Ok(ConsentDecision {
            enabled: false,
            rule,
        })
    };
    let on = |rule| {
        Ok(ConsentDecision {
            enabled: true,
            rule,
        })
    };

    // 1. Opt-out.
    if explicit == Some(false) {
        return off(ConsentRule::OptOutVariable(ENABLED_VAR));
    }
    if is_set(&inputs.do_not_track) {
        return off(ConsentRule::OptOutVariable("DO_NOT_TRACK"));
    }
    if otel_disabled == Some(true) {
        return off(ConsentRule::OptOutVariable("OTEL_SDK_DISABLED"));
    }
    if let Some(path) = &inputs.opt_out_file {
        return off(ConsentRule::OptOutFile(path.clone()));
    }
    if inputs.in_code == Some(false) {
        return off(ConsentRule::RevokedInCode);
    }
    // 2. Development.
    let dev_env = inputs
        .environment
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase());
    let development = if matches!(dev_env.as_deref(), Some("development" | "dev" | "test")) {
        Some("ENVIRONMENT")
    } else if is_set(&inputs.ci) {
        Some("CI")
    } else {
        None
    };
    if let Some(var) = development {
        return if explicit == Some(true) {
            on(ConsentRule::OptInVariable)
        } else {
            off(ConsentRule::Development(var))
        };
    }
    // 3. Opt-in.
    if explicit == Some(true) {
        return on(ConsentRule::OptInVariable);
    }
    if inputs.in_code == Some(true) {
        return on(ConsentRule::GrantedInCode);
    }
    // 4. Defaults.
    match inputs.program_default {
        Some(enabled) => Ok(ConsentDecision {
            enabled,
            rule: ConsentRule::ProgramDefault,
        }),
        None => off(ConsentRule::LibraryDefault),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> ConsentInputs {
        ConsentInputs::default()
    }

    fn decide_ok(i: &ConsentInputs) -> ConsentDecision {
        decide(i).expect("valid inputs")
    }

    #[test]
    fn library_default_is_disabled() {
        let d = decide_ok(&inputs());
        assert_eq!(
            d,
            ConsentDecision {
                enabled: false,
                rule: ConsentRule::LibraryDefault
            }
        );
    }

    #[test]
    fn program_default() {
        let d = decide_ok(&ConsentInputs {
            program_default: Some(true),
            ..inputs()
        });
        assert_eq!(
            d,
            ConsentDecision {
                enabled: true,
                rule: ConsentRule::ProgramDefault
            }
        );
    }

    #[test]
    fn opt_in_by_variable_and_code() {
        let d = decide_ok(&ConsentInputs {
            enabled_var: Some("true".into()),
            ..inputs()
        });
        assert_eq!(
            d,
            ConsentDecision {
                enabled: true,
                rule: ConsentRule::OptInVariable
            }
        );
        let d = decide_ok(&ConsentInputs {
            in_code: Some(true),
            program_default: Some(false),
            ..inputs()
        });
        assert_eq!(
            d,
            ConsentDecision {
                enabled: true,
                rule: ConsentRule::GrantedInCode
            }
        );
    }

    #[test]
    fn every_opt_out_beats_every_opt_in() {
        let granted = ConsentInputs {
            in_code: Some(true),
            program_default: Some(true),
            ..inputs()
        };
        let cases: Vec<(ConsentInputs, ConsentRule)> = vec![
            (
                ConsentInputs {
                    enabled_var: Some("false".into()),
                    ..granted.clone()
                },
                ConsentRule::OptOutVariable(ENABLED_VAR),
            ),
            (
                ConsentInputs {
                    do_not_track: Some("1".into()),
                    enabled_var: Some("true".into()),
                    ..granted.clone()
                },
                ConsentRule::OptOutVariable("DO_NOT_TRACK"),
            ),
            (
                ConsentInputs {
                    otel_sdk_disabled: Some("TRUE".into()),
                    enabled_var: Some("1".into()),
                    ..granted.clone()
                },
                ConsentRule::OptOutVariable("OTEL_SDK_DISABLED"),
            ),
            (
                ConsentInputs {
                    opt_out_file: Some("/h/.automagik-no-telemetry".into()),
                    enabled_var: Some("yes".into()),
                    ..granted.clone()
                },
                ConsentRule::OptOutFile("/h/.automagik-no-telemetry".into()),
            ),
            (
                ConsentInputs {
                    in_code: Some(false),
                    program_default: Some(true),
                    ..inputs()
                },
                ConsentRule::RevokedInCode,
            ),
        ];
        for (i, rule) in cases {
            assert_eq!(
                decide_ok(&i),
                ConsentDecision {
                    enabled: false,
                    rule
                }
            );
        }
    }

    #[test]
    fn do_not_track_zero_does_not_opt_out() {
        let d = decide_ok(&ConsentInputs {
            do_not_track: Some("0".into()),
            in_code: Some(true),
            ..inputs()
        });
        assert!(d.enabled);
    }

    #[test]
    fn development_disables_unless_variable_says_true() {
        for (env, ci, var) in [
            (Some("development"), None, "ENVIRONMENT"),
            (Some("DEV"), None, "ENVIRONMENT"),
            (Some("test"), None, "ENVIRONMENT"),
            (None, Some("true"), "CI"),
        ] {
            let base = ConsentInputs {
                environment: env.map(String::from),
                ci: ci.map(String::from),
                in_code: Some(true),
                program_default: Some(true),
                ..inputs()
            };
            // Consent in code does not override a development environment...
            assert_eq!(
                decide_ok(&base),
                ConsentDecision {
                    enabled: false,
                    rule: ConsentRule::Development(var)
                }
            );
            // ...the explicit variable does.
            let with_var = ConsentInputs {
                enabled_var: Some("true".into()),
                ..base
            };
            assert_eq!(
                decide_ok(&with_var),
                ConsentDecision {
                    enabled: true,
                    rule: ConsentRule::OptInVariable
                }
            );
        }
        let prod = ConsentInputs {
            environment: Some("production".into()),
            in_code: Some(true),
            ..inputs()
        };
        assert!(decide_ok(&prod).enabled);
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let err = decide(&ConsentInputs {
            enabled_var: Some("maybe".into()),
            ..inputs()
        })
        .expect_err("malformed");
        assert!(err.to_string().contains(ENABLED_VAR), "{err}");
        let err = decide(&ConsentInputs {
            otel_sdk_disabled: Some("nope".into()),
            ..inputs()
        })
        .expect_err("malformed");
        assert!(err.to_string().contains("OTEL_SDK_DISABLED"), "{err}");
    }

    #[test]
    fn decision_explains_itself() {
        let d = decide_ok(&ConsentInputs {
            ci: Some("1".into()),
            ..inputs()
        });
        assert!(d.to_string().contains("CI"), "{d}");
    }
}
