//! Policy tables: operator semantics one row at a time, and AWS's documented examples as data.

use super::*;

type Ctx<'a> = &'a [(&'a str, &'a [&'a str])];

fn context(ctx: Ctx<'_>) -> RequestContext {
    let mut c = RequestContext::new();
    for (k, vs) in ctx {
        c.insert_multi(k, vs.iter().copied());
    }
    c
}

const A: DecisionEffect = DecisionEffect::Allow;
const D: DecisionEffect = DecisionEffect::ExplicitDeny;
const N: DecisionEffect = DecisionEffect::ImplicitDeny;

/// One policy, many requests: (name, action, resource, context, expected effect).
fn check(policy: &str, rows: &[(&str, &str, &str, Ctx<'_>, DecisionEffect)]) {
    let policies = [NamedPolicy::new(
        "p",
        Policy::parse(policy).unwrap_or_else(|e| panic!("{e}: {policy}")),
    )];
    for (name, action, resource, ctx, want) in rows {
        let ctx = context(ctx);
        let d = evaluate(
            &policies,
            &Request {
                action,
                resource,
                principal: None,
                context: &ctx,
            },
        );
        assert_eq!(d.effect, *want, "{name}: {}", d.reason);
    }
}

#[test]
fn operator_table() {
    // (operator, key, policy values as JSON, request values (None = absent), condition holds)
    let rows: &[(&str, &str, &str, Option<&[&str]>, bool)] = &[
        ("StringEquals", "k", r#""a""#, Some(&["a"]), true),
        ("StringEquals", "k", r#""a""#, Some(&["A"]), false),
        ("StringEquals", "k", r#"["a","b"]"#, Some(&["b"]), true),
        ("StringEquals", "k", r#""a*""#, Some(&["ab"]), false),
        ("StringEquals", "k", r#""a""#, None, false),
        ("StringNotEquals", "k", r#""a""#, Some(&["b"]), true),
        ("StringNotEquals", "k", r#"["a","b"]"#, Some(&["b"]), false),
        ("StringNotEquals", "k", r#""a""#, None, true),
        ("StringEqualsIgnoreCase", "k", r#""Straße""#, Some(&["STRASSE"]), false),
        ("StringEqualsIgnoreCase", "k", r#""ABC""#, Some(&["abc"]), true),
        ("StringNotEqualsIgnoreCase", "k", r#""ABC""#, Some(&["abc"]), false),
        ("StringLike", "k", r#""home/*""#, Some(&["home/x/y"]), true),
        ("StringLike", "k", r#""h?me""#, Some(&["home"]), true),
        ("StringLike", "k", r#""Home/*""#, Some(&["home/x"]), false),
        ("StringNotLike", "k", r#""tmp/*""#, Some(&["home/x"]), true),
        ("StringNotLike", "k", r#""tmp/*""#, None, true),
        ("StringLikeIfExists", "k", r#""x""#, None, true),
        ("StringLikeIfExists", "k", r#""x""#, Some(&["y"]), false),
        ("NumericLessThanEquals", "s3:max-keys", "10", Some(&["10"]), true),
        ("NumericLessThan", "s3:max-keys", r#""10""#, Some(&["10"]), false),
        ("NumericGreaterThan", "k", "1.5", Some(&["2"]), true),
        ("NumericGreaterThanEquals", "k", "2", Some(&["1"]), false),
        ("NumericEquals", "k", "7", Some(&["7.0"]), true),
        ("NumericNotEquals", "k", "7", Some(&["8"]), true),
        ("NumericEquals", "k", "7", Some(&["seven"]), false),
        (
            "DateLessThan",
            "aws:CurrentTime",
            r#""2026-03-01T12:00:01Z""#,
            Some(&["2026-03-01T12:00:00Z"]),
            true,
        ),
        (
            "DateGreaterThan",
            "aws:CurrentTime",
            r#""2026-03-01""#,
            Some(&["2026-03-01T00:00:01Z"]),
            true,
        ),
        (
            "DateEquals",
            "aws:CurrentTime",
            "1772366400",
            Some(&["2026-03-01T12:00:00Z"]),
            true,
        ),
        (
            "DateNotEquals",
            "aws:CurrentTime",
            "1772366400",
            Some(&["2026-03-01T12:00:00Z"]),
            false,
        ),
        (
            "DateLessThanEquals",
            "aws:CurrentTime",
            r#""2026-03-01T13:00:00+01:00""#,
            Some(&["2026-03-01T12:00:00Z"]),
            true,
        ),
        (
            "DateGreaterThanEquals",
            "aws:CurrentTime",
            r#""not a date""#,
            Some(&["2026-03-01T12:00:00Z"]),
            false,
        ),
        ("Bool", "aws:SecureTransport", r#""true""#, Some(&["true"]), true),
        ("Bool", "aws:SecureTransport", "true", Some(&["TRUE"]), true),
        ("Bool", "aws:SecureTransport", "false", Some(&["true"]), false),
        ("Bool", "aws:SecureTransport", "false", None, false),
        ("BoolIfExists", "aws:MultiFactorAuthPresent", "false", None, true),
        ("BinaryEquals", "k", r#""QmluYXJ5""#, Some(&["QmluYXJ5"]), true),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""10.0.0.0/8""#,
            Some(&["10.1.2.3"]),
            true,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""10.0.0.0/8""#,
            Some(&["11.1.2.3"]),
            false,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#"["192.0.2.0/24","203.0.113.7"]"#,
            Some(&["203.0.113.7"]),
            true,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""203.0.113.7/32""#,
            Some(&["203.0.113.8"]),
            false,
        ),
        ("IpAddress", "aws:SourceIp", r#""0.0.0.0/0""#, Some(&["1.2.3.4"]), true),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""2001:db8::/32""#,
            Some(&["2001:db8:1::5"]),
            true,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""2001:db8::/32""#,
            Some(&["2001:db9::5"]),
            false,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""10.0.0.0/8""#,
            Some(&["::ffff:10.0.0.1"]),
            false,
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""10.0.0.0/33""#,
            Some(&["10.0.0.1"]),
            false,
        ),
        (
            "NotIpAddress",
            "aws:SourceIp",
            r#""10.0.0.0/8""#,
            Some(&["192.168.1.1"]),
            true,
        ),
        (
            "NotIpAddress",
            "aws:SourceIp",
            r#""10.0.0.0/8""#,
            Some(&["10.9.9.9"]),
            false,
        ),
        ("NotIpAddress", "aws:SourceIp", r#""10.0.0.0/8""#, None, true),
        (
            "ArnLike",
            "aws:PrincipalArn",
            r#""arn:aws:iam::*:role/app-*""#,
            Some(&["arn:aws:iam::123456789012:role/app-x"]),
            true,
        ),
        (
            "ArnLike",
            "aws:PrincipalArn",
            r#""arn:aws:iam::*:role/app-*""#,
            Some(&["arn:aws:iam::123456789012:user/app-x"]),
            false,
        ),
        (
            "ArnLike",
            "aws:PrincipalArn",
            r#""arn:aws:iam::*""#,
            Some(&["arn:aws:iam::1:role/x"]),
            false,
        ), // 6 parts needed
        (
            "ArnEquals",
            "aws:PrincipalArn",
            r#""arn:aws:iam::123456789012:role/a""#,
            Some(&["arn:aws:iam::123456789012:role/a"]),
            true,
        ),
        (
            "ArnNotEquals",
            "aws:PrincipalArn",
            r#""arn:aws:iam::123456789012:role/a""#,
            Some(&["arn:aws:iam::123456789012:role/b"]),
            true,
        ),
        (
            "ArnNotLike",
            "aws:PrincipalArn",
            r#""arn:aws:iam::*:role/a""#,
            None,
            true,
        ),
        ("Null", "aws:TokenIssueTime", "true", None, true),
        ("Null", "aws:TokenIssueTime", "true", Some(&["x"]), false),
        ("Null", "aws:TokenIssueTime", "false", Some(&["x"]), true),
        ("Null", "aws:TokenIssueTime", r#""false""#, Some(&[]), false), // present but empty = absent
        // Set qualifiers, including their documented behaviour on empty and absent sets.
        (
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            r#"["a","b"]"#,
            Some(&["a"]),
            true,
        ),
        (
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            r#"["a","b"]"#,
            Some(&["a", "c"]),
            false,
        ),
        (
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            r#"["a","b"]"#,
            Some(&[]),
            true,
        ),
        ("ForAllValues:StringEquals", "aws:TagKeys", r#"["a","b"]"#, None, true),
        (
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            r#"["a","b"]"#,
            Some(&["c", "b"]),
            true,
        ),
        (
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            r#"["a","b"]"#,
            Some(&["c"]),
            false,
        ),
        (
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            r#"["a","b"]"#,
            Some(&[]),
            false,
        ),
        ("ForAnyValue:StringEquals", "aws:TagKeys", r#"["a","b"]"#, None, false),
        (
            "ForAnyValue:StringEqualsIfExists",
            "aws:TagKeys",
            r#"["a"]"#,
            None,
            true,
        ),
        (
            "ForAllValues:StringNotEquals",
            "aws:TagKeys",
            r#"["secret"]"#,
            Some(&["a", "b"]),
            true,
        ),
        (
            "ForAllValues:StringNotEquals",
            "aws:TagKeys",
            r#"["secret"]"#,
            Some(&["a", "secret"]),
            false,
        ),
        (
            "ForAnyValue:StringNotEquals",
            "aws:TagKeys",
            r#"["secret"]"#,
            Some(&["secret", "b"]),
            true,
        ),
        (
            "ForAnyValue:StringLike",
            "aws:TagKeys",
            r#""team-*""#,
            Some(&["x", "team-a"]),
            true,
        ),
        // Multivalued key without a qualifier: any value for positive operators, none for negated.
        ("StringEquals", "aws:TagKeys", r#""a""#, Some(&["b", "a"]), true),
        ("StringNotEquals", "aws:TagKeys", r#""a""#, Some(&["b", "a"]), false),
        // Condition keys are case-insensitive.
        ("StringEquals", "AWS:SOURCEVPC", r#""vpc-1""#, Some(&["vpc-1"]), true),
        // Policy variables in values.
        (
            "StringEquals",
            "s3:prefix",
            r#""home/${aws:username}/""#,
            Some(&["home/alice/"]),
            true,
        ),
        (
            "StringEquals",
            "s3:prefix",
            r#""home/${aws:username}/""#,
            Some(&["home/bob/"]),
            false,
        ),
        (
            "StringLike",
            "s3:prefix",
            r#""${keyless:namespace}/*""#,
            Some(&["apps/db"]),
            true,
        ),
        ("StringEquals", "s3:prefix", r#""${aws:nokey}""#, Some(&[""]), false),
        (
            "StringEquals",
            "s3:prefix",
            r#""${aws:nokey, 'none'}""#,
            Some(&["none"]),
            true,
        ),
    ];
    for (op, key, values, request, want) in rows {
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
               "Condition":{{"{op}":{{"{key}":{values}}}}}}}}}"#
        );
        let policy = [NamedPolicy::new(
            "p",
            Policy::parse(&policy).unwrap_or_else(|e| panic!("{e}: {policy}")),
        )];
        let mut ctx = RequestContext::new();
        ctx.insert("aws:username", "alice");
        ctx.insert("keyless:namespace", "apps");
        if let Some(vs) = request {
            ctx.insert_multi(key, vs.iter().copied());
        }
        let d = evaluate(
            &policy,
            &Request {
                action: "s3:GetObject",
                resource: "x",
                principal: None,
                context: &ctx,
            },
        );
        assert_eq!(
            d.is_allowed(),
            *want,
            "{op} {key} {values} vs {request:?}: {}",
            d.reason
        );
    }
}

#[test]
fn default_deny_explicit_deny_and_matching() {
    check(
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"ReadAll","Effect":"Allow","Action":["S3:Get*","s3:ListBucket"],"Resource":["arn:aws:s3:::data","arn:aws:s3:::data/*"]},
            {"Sid":"NoSecrets","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::data/secret/*"},
            {"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::data/in/??.csv"}]}"#,
        &[
            (
                "allowed, action case-insensitive",
                "s3:getobject",
                "arn:aws:s3:::data/a",
                &[],
                A,
            ),
            ("list bucket", "s3:ListBucket", "arn:aws:s3:::data", &[], A),
            (
                "explicit deny wins over allow",
                "s3:GetObject",
                "arn:aws:s3:::data/secret/k",
                &[],
                D,
            ),
            ("resource case-sensitive", "s3:GetObject", "arn:aws:s3:::DATA/a", &[], N),
            ("other bucket", "s3:GetObject", "arn:aws:s3:::data2/a", &[], N),
            ("action not allowed", "s3:DeleteObject", "arn:aws:s3:::data/a", &[], N),
            (
                "? matches one char",
                "s3:PutObject",
                "arn:aws:s3:::data/in/ab.csv",
                &[],
                A,
            ),
            ("? is not two", "s3:PutObject", "arn:aws:s3:::data/in/abc.csv", &[], N),
            (
                "deny statement applies to puts too",
                "s3:PutObject",
                "arn:aws:s3:::data/secret/x",
                &[],
                D,
            ),
        ],
    );
}

/// AWS IAM documentation: a home folder per user through `${aws:username}` in Resource and in an
/// `s3:prefix` condition (the console needs to list the root and `home/`).
#[test]
fn aws_example_home_folder_per_user() {
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"ListRootAndHome","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared",
         "Condition":{"StringEquals":{"s3:prefix":["","home/"],"s3:delimiter":["/"]}}},
        {"Sid":"ListOwnFolder","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared",
         "Condition":{"StringLike":{"s3:prefix":["home/${aws:username}/*"]}}},
        {"Sid":"OwnFolderObjects","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],
         "Resource":"arn:aws:s3:::shared/home/${aws:username}/*"}]}"#;
    let alice: &[(&str, &[&str])] = &[("aws:username", &["alice"])];
    check(
        policy,
        &[
            (
                "root listing",
                "s3:ListBucket",
                "arn:aws:s3:::shared",
                &[
                    ("aws:username", &["alice"]),
                    ("s3:prefix", &[""]),
                    ("s3:delimiter", &["/"]),
                ],
                A,
            ),
            (
                "home listing",
                "s3:ListBucket",
                "arn:aws:s3:::shared",
                &[
                    ("aws:username", &["alice"]),
                    ("s3:prefix", &["home/"]),
                    ("s3:delimiter", &["/"]),
                ],
                A,
            ),
            (
                "root listing without delimiter",
                "s3:ListBucket",
                "arn:aws:s3:::shared",
                &[("aws:username", &["alice"]), ("s3:prefix", &[""])],
                N,
            ),
            (
                "own folder",
                "s3:ListBucket",
                "arn:aws:s3:::shared",
                &[("aws:username", &["alice"]), ("s3:prefix", &["home/alice/docs/"])],
                A,
            ),
            (
                "another's folder",
                "s3:ListBucket",
                "arn:aws:s3:::shared",
                &[("aws:username", &["alice"]), ("s3:prefix", &["home/bob/"])],
                N,
            ),
            ("no prefix at all", "s3:ListBucket", "arn:aws:s3:::shared", alice, N),
            (
                "own object",
                "s3:PutObject",
                "arn:aws:s3:::shared/home/alice/a.txt",
                alice,
                A,
            ),
            (
                "another's object",
                "s3:GetObject",
                "arn:aws:s3:::shared/home/bob/a.txt",
                alice,
                N,
            ),
            (
                "no username: the variable resolves to nothing",
                "s3:GetObject",
                "arn:aws:s3:::shared/home//a",
                &[],
                N,
            ),
        ],
    );
}

/// The same idea with keyless's variables: one role gives every namespace its own prefix.
#[test]
fn per_namespace_prefix() {
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::tenants/${keyless:namespace}/*"},
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::tenants",
         "Condition":{"StringLike":{"s3:prefix":"${keyless:namespace}/*"}}}]}"#;
    let apps: &[(&str, &[&str])] = &[("keyless:namespace", &["apps"])];
    check(
        policy,
        &[
            (
                "own prefix",
                "s3:PutObject",
                "arn:aws:s3:::tenants/apps/db.sqlite",
                apps,
                A,
            ),
            (
                "neighbour's prefix",
                "s3:GetObject",
                "arn:aws:s3:::tenants/web/db.sqlite",
                apps,
                N,
            ),
            (
                "prefix named like a wildcard",
                "s3:GetObject",
                "arn:aws:s3:::tenants/apps",
                apps,
                N,
            ),
            (
                "list own",
                "s3:ListBucket",
                "arn:aws:s3:::tenants",
                &[("keyless:namespace", &["apps"]), ("s3:prefix", &["apps/"])],
                A,
            ),
            (
                "list other",
                "s3:ListBucket",
                "arn:aws:s3:::tenants",
                &[("keyless:namespace", &["apps"]), ("s3:prefix", &["web/"])],
                N,
            ),
        ],
    );
}

/// AWS IAM documentation: Deny with NotAction ("deny everything except ... unless MFA").
#[test]
fn aws_example_notaction_deny() {
    check(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"*","Resource":"*"},
            {"Sid":"DenyAllButIamUnlessMFA","Effect":"Deny","NotAction":"iam:*","Resource":"*",
             "Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
        &[
            ("iam is not denied", "iam:ListUsers", "*", &[], A),
            (
                "s3 without the MFA key is denied (IfExists)",
                "s3:GetObject",
                "arn:aws:s3:::b/k",
                &[],
                D,
            ),
            (
                "s3 with MFA false is denied",
                "s3:GetObject",
                "arn:aws:s3:::b/k",
                &[("aws:MultiFactorAuthPresent", &["false"])],
                D,
            ),
            (
                "s3 with MFA is allowed",
                "s3:GetObject",
                "arn:aws:s3:::b/k",
                &[("aws:MultiFactorAuthPresent", &["true"])],
                A,
            ),
        ],
    );
    // NotAction in an Allow allows everything *but* the listed actions; NotResource likewise.
    check(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:Delete*","NotResource":"arn:aws:s3:::locked/*"}}"#,
        &[
            ("get allowed", "s3:GetObject", "arn:aws:s3:::b/k", &[], A),
            ("delete not allowed", "s3:DeleteObject", "arn:aws:s3:::b/k", &[], N),
            ("locked not allowed", "s3:GetObject", "arn:aws:s3:::locked/k", &[], N),
        ],
    );
}

/// AWS IAM documentation: ForAllValues with Allow passes on an empty or absent set, which is why
/// AWS pairs it with a Null check; ForAnyValue fails on it.
#[test]
fn aws_example_set_operators_on_empty_sets() {
    let unsafe_allow = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObjectTagging","Resource":"*",
        "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["project","team"]}}}}"#;
    let safe_allow = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObjectTagging","Resource":"*",
        "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["project","team"]},"Null":{"aws:TagKeys":"false"}}}}"#;
    let any = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObjectTagging","Resource":"*",
        "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["project"]}}}}"#;
    let r = "arn:aws:s3:::b/k";
    check(
        unsafe_allow,
        &[
            ("subset", "s3:PutObjectTagging", r, &[("aws:TagKeys", &["team"])], A),
            (
                "extra key",
                "s3:PutObjectTagging",
                r,
                &[("aws:TagKeys", &["team", "cost"])],
                N,
            ),
            ("absent set passes!", "s3:PutObjectTagging", r, &[], A),
            (
                "empty set passes!",
                "s3:PutObjectTagging",
                r,
                &[("aws:TagKeys", &[])],
                A,
            ),
        ],
    );
    check(
        safe_allow,
        &[
            ("subset", "s3:PutObjectTagging", r, &[("aws:TagKeys", &["project"])], A),
            ("absent set refused by Null", "s3:PutObjectTagging", r, &[], N),
        ],
    );
    check(
        any,
        &[
            (
                "one matches",
                "s3:PutObjectTagging",
                r,
                &[("aws:TagKeys", &["x", "project"])],
                A,
            ),
            ("absent fails", "s3:PutObjectTagging", r, &[], N),
            ("empty fails", "s3:PutObjectTagging", r, &[("aws:TagKeys", &[])], N),
        ],
    );
}

/// AWS IAM documentation: `...IfExists` and `Null`.
#[test]
fn aws_example_ifexists_and_null() {
    check(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*",
             "Condition":{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}},
            {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"true"}}},
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
        &[
            (
                "instance type allowed",
                "ec2:RunInstances",
                "*",
                &[("ec2:InstanceType", &["t2.micro"])],
                A,
            ),
            (
                "instance type refused",
                "ec2:RunInstances",
                "*",
                &[("ec2:InstanceType", &["m5.large"])],
                N,
            ),
            ("no instance type: IfExists passes", "ec2:RunInstances", "*", &[], A),
            (
                "long-term credentials (no token issue time) denied",
                "s3:GetObject",
                "arn:aws:s3:::b/k",
                &[],
                D,
            ),
            (
                "temporary credentials allowed",
                "s3:GetObject",
                "arn:aws:s3:::b/k",
                &[("aws:TokenIssueTime", &["2026-03-01T12:00:00Z"])],
                A,
            ),
        ],
    );
}

#[test]
fn variables_escapes_and_versions() {
    let ctx: &[(&str, &[&str])] = &[("aws:username", &["alice"])];
    check(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${*}/${aws:username}"},
            {"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/${$}${?}"},
            {"Effect":"Allow","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/${aws:userid, 'anon'}/*"}]}"#,
        &[
            (
                "${*} is a literal asterisk",
                "s3:GetObject",
                "arn:aws:s3:::b/*/alice",
                ctx,
                A,
            ),
            (
                "${*} is not a wildcard",
                "s3:GetObject",
                "arn:aws:s3:::b/x/alice",
                ctx,
                N,
            ),
            ("${$}${?}", "s3:PutObject", "arn:aws:s3:::b/$?", ctx, A),
            ("${?} is not a wildcard", "s3:PutObject", "arn:aws:s3:::b/$x", ctx, N),
            ("default value", "s3:DeleteObject", "arn:aws:s3:::b/anon/k", ctx, A),
        ],
    );
    // 2008-10-17 (and no Version): variables are literal text.
    for version in [r#""Version":"2008-10-17","#, ""] {
        check(
            &format!(
                r#"{{{version}"Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${{aws:username}}"}}}}"#
            ),
            &[
                ("not substituted", "s3:GetObject", "arn:aws:s3:::b/alice", ctx, N),
                ("literal", "s3:GetObject", "arn:aws:s3:::b/${aws:username}", ctx, A),
            ],
        );
    }
}

#[test]
fn session_policy_narrows_never_widens() {
    let role = [NamedPolicy::new(
        "role",
        Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/keep/*"}]}"#,
        )
        .unwrap(),
    )];
    let session = NamedPolicy::new(
        "session",
        Policy::parse(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:DeleteObject"],"Resource":"*"},
            {"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/private/*"}]}"#)
            .unwrap(),
    );
    let ctx = RequestContext::new();
    let rows: &[(&str, &str, Option<&NamedPolicy>, DecisionEffect, &str)] = &[
        (
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            Some(&session),
            A,
            "role statement #0",
        ),
        (
            "s3:PutObject",
            "arn:aws:s3:::b/k",
            Some(&session),
            N,
            "the session policy does not",
        ),
        ("s3:PutObject", "arn:aws:s3:::b/k", None, A, "role statement #0"),
        (
            "s3:GetObject",
            "arn:aws:s3:::other/k",
            Some(&session),
            N,
            "no statement allows",
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::b/private/k",
            Some(&session),
            D,
            "session statement #1",
        ),
        (
            "s3:DeleteObject",
            "arn:aws:s3:::b/keep/k",
            Some(&session),
            D,
            "role statement #1",
        ),
    ];
    for (action, resource, session, want, reason) in rows {
        let d = evaluate_with_session(
            &role,
            *session,
            &Request {
                action,
                resource,
                principal: None,
                context: &ctx,
            },
        );
        assert_eq!(d.effect, *want, "{action} {resource}: {}", d.reason);
        assert!(
            d.reason.contains(reason),
            "{action} {resource}: {:?} lacks {reason:?}",
            d.reason
        );
    }
}

#[test]
fn decision_reasons() {
    let policies = [NamedPolicy::new(
        "app",
        Policy::parse(r#"{"Version":"2012-10-17","Statement":[{"Sid":"Home","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b",
            "Condition":{"StringLike":{"s3:prefix":"home/*"}}}]}"#)
            .unwrap(),
    )];
    let mut ctx = RequestContext::new();
    ctx.insert("s3:prefix", "etc/");
    let d = evaluate(
        &policies,
        &Request {
            action: "s3:ListBucket",
            resource: "arn:aws:s3:::b",
            principal: None,
            context: &ctx,
        },
    );
    assert_eq!(d.effect, N);
    assert_eq!(
        d.statement,
        Some(StatementRef {
            policy: "app".into(),
            statement: "Home".into()
        })
    );
    assert_eq!(
        d.reason,
        r#"app statement Home covers s3:ListBucket on arn:aws:s3:::b but its condition failed: StringLike s3:prefix: request value ["etc/"] does not satisfy ["home/*"]"#
    );
}

#[test]
fn parse_errors_table() {
    let rows: &[(&str, &str)] = &[
        ("[]", "not a JSON object"),
        ("{", "not valid JSON"),
        (r#"{"Version":"2012-10-17"}"#, "no Statement"),
        (r#"{"Version":"2013-01-01","Statement":[]}"#, "Version \"2013-01-01\""),
        (r#"{"Statement":[]}"#, "non-empty list"),
        (
            r#"{"Statement":{"Action":"s3:*","Resource":"*"}}"#,
            "statement 0: no Effect",
        ),
        (
            r#"{"Statement":{"Effect":"allow","Action":"s3:*","Resource":"*"}}"#,
            "Effect \"allow\"",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
            "no Action or NotAction",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","NotAction":"s3:x","Resource":"*"}}"#,
            "both Action and NotAction",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}"#,
            "service:action",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#,
            "non-empty list of strings",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"k":"v"}}}}"#,
            "unknown condition operator \"StringEqualz\"",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForAnyValue:Null":{"k":"true"}}}}"#,
            "unknown condition operator",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"k":{"x":1}}}}}"#,
            "strings, numbers or booleans",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Effects":"Deny"}}"#,
            "unknown element \"Effects\"",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Principal":{"Robot":"x"}}}"#,
            "unknown principal type",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*"},"Extra":1}"#,
            "unknown top-level element",
        ),
    ];
    for (json, want) in rows {
        let e = Policy::parse(json).expect_err(json);
        assert!(e.0.contains(want), "{json}: {e} lacks {want:?}");
    }
    // Accepted quirks: one statement object, scalar condition values, numbers and booleans.
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"1","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*",
            "Condition":{"NumericLessThan":{"s3:max-keys":10},"Bool":{"aws:SecureTransport":false}}}}"#,
    )
    .unwrap();
    assert_eq!(p.statements[0].conditions.len(), 2);
    assert!(p.statements[0].conditions.iter().any(|c| c.values == ["10"]));
    assert!(p.statements[0].conditions.iter().any(|c| c.values == ["false"]));
    assert!(p.check_identity_policy().is_err());
    assert!(p.check_trust_policy().is_ok());
}
