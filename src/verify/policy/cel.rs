//! CEL rules of policy files: named boolean expressions over the verified Statement,
//! evaluated with the `cel` crate (cel-rust, the Common Expression Language's Rust
//! implementation; its parser limits nesting depth).
//!
//! The variables: `statement` (the whole Statement), `predicateType`, `predicate`,
//! `subjects`, `build` (what [`super::facts`] read: `type`, `builderId`, `sources[]`
//! with `uri`, `repository`, `digest`, `ref`, and `params`) and `signer` (`kind`
//! `key`, or `certificate` with `identity`, `issuer` and Fulcio's `claims`).
//!
//! A rule passes when its expression is `true`; `false` fails it; anything else (a
//! missing key, another type) is an error, which fails it too. A rule may name an
//! `observe` expression whose value is reported, so a failure says what was found.

use std::path::Path;

use ::cel::{Context, Program, Value as CelValue};
use serde_json::Value;

use super::{Error, Input, RuleKind, RuleResult, Status, shown};

/// One compiled rule.
pub struct Rule {
    /// Its name.
    pub name: String,
    /// The expression as written.
    pub source: String,
    program: Program,
    observe: Option<Program>,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// A policy file's rules, in order.
#[derive(Debug, Default)]
pub struct Rules(pub Vec<Rule>);

impl Rule {
    /// Compile `expr` (and `observe`) for the rule `name` of `path`.
    pub fn compile(
        path: &Path,
        name: &str,
        expr: &str,
        observe: Option<&str>,
    ) -> Result<Self, Error> {
        let compile = |text: &str| {
            Program::compile(text).map_err(|e| Error::Cel {
                path: path.to_owned(),
                rule: name.to_owned(),
                reason: e.to_string(),
            })
        };
        Ok(Self {
            name: name.to_owned(),
            source: expr.to_owned(),
            program: compile(expr)?,
            observe: observe.map(compile).transpose()?,
        })
    }
}

/// The variables CEL rules see for `input` ([`Input::variables`]), made once per
/// attestation for every policy file; `Err` says why the Statement cannot be given
/// to CEL.
pub fn context(input: &Input<'_>) -> Result<Context<'static, 'static>, String> {
    let mut context = Context::default();
    for (name, value) in input.variables() {
        context
            .add_variable(name, value)
            .map_err(|e| format!("the Statement cannot be given to CEL: {e}"))?;
    }
    Ok(context)
}

impl Rules {
    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every rule's result in `context` ([`context`]), named `<file>: <rule>`.
    pub fn evaluate(
        &self,
        context: &Result<Context<'_, '_>, String>,
        file: &str,
    ) -> Vec<RuleResult> {
        let (context, broken) = match context {
            Ok(c) => (Some(c), None),
            Err(why) => (None, Some(why)),
        };
        self.0
            .iter()
            .map(|rule| {
                let name = format!("{file}: {}", rule.name);
                let expected = format!("{} is true", rule.source);
                let (Some(context), None) = (context, broken) else {
                    return RuleResult {
                        rule: name,
                        kind: RuleKind::Cel,
                        status: Status::Error,
                        expected,
                        observed: broken.map(ToString::to_string).unwrap_or_default(),
                    };
                };
                let observed = |fallback: String| match &rule.observe {
                    Some(p) => match p.execute(context) {
                        Ok(v) => shown(&json_text(&v)),
                        Err(e) => shown(&format!("(cannot observe: {e})")),
                    },
                    None => fallback,
                };
                let (status, observed) = match rule.program.execute(context) {
                    Ok(CelValue::Bool(true)) => (Status::Passed, observed("true".to_owned())),
                    Ok(CelValue::Bool(false)) => (Status::Failed, observed("false".to_owned())),
                    Ok(other) => (
                        Status::Error,
                        shown(&format!(
                            "the expression is not a boolean: it gave {}",
                            json_text(&other)
                        )),
                    ),
                    Err(e) => (Status::Error, shown(&e.to_string())),
                };
                RuleResult {
                    rule: name,
                    kind: RuleKind::Cel,
                    status,
                    expected,
                    observed,
                }
            })
            .collect()
    }
}

/// A CEL value as JSON text, for messages.
fn json_text(value: &CelValue) -> String {
    value
        .json()
        .map_or_else(|_| format!("{value:?}"), |v: Value| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expr: &str, observe: Option<&str>, statement: &Value) -> RuleResult {
        let rules = Rules(vec![
            Rule::compile(Path::new("p.yaml"), "r", expr, observe).expect("compiles"),
        ]);
        let input = Input::new(statement, None);
        rules.evaluate(&context(&input), "p.yaml").remove(0)
    }

    #[test]
    fn rules_pass_fail_or_cannot_be_answered() {
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "predicateType": "https://slsa.dev/provenance/v1",
            "subject": [{"name": "app", "digest": {"sha256": "ab"}}],
            "predicate": {"buildDefinition": {"buildType": "https://tekton.dev/chains/v2/slsa",
                "externalParameters": {"runSpec": {"params": [{"name": "IMAGE", "value": "r/app"}]}}}},
        });
        let r = run("build.params.IMAGE == 'r/app'", None, &statement);
        assert_eq!((r.status, r.rule.as_str()), (Status::Passed, "p.yaml: r"));
        let r = run(
            "build.params.IMAGE.startsWith('evil')",
            Some("build.params.IMAGE"),
            &statement,
        );
        assert_eq!(
            (r.status, r.observed.as_str()),
            (Status::Failed, "\"r/app\"")
        );
        let r = run("predicate.nope == 1", None, &statement);
        assert_eq!(r.status, Status::Error, "{r:?}");
        let r = run("size(subjects)", None, &statement);
        assert_eq!(r.status, Status::Error);
        assert!(r.observed.contains("not a boolean"), "{}", r.observed);
        let r = run(
            "signer.kind == 'key' && subjects.all(s, has(s.digest.sha256))",
            None,
            &statement,
        );
        assert_eq!(r.status, Status::Passed, "{r:?}");
    }

    #[test]
    fn an_expression_that_does_not_compile_names_the_rule() {
        let e = Rule::compile(Path::new("p.yaml"), "broken", "a ==", None).expect_err("bad");
        assert!(
            e.to_string()
                .starts_with("policy file `p.yaml`, rule `broken`"),
            "{e}"
        );
    }
}
