"""The deploy tier as CloudFormation would receive it: resources, policies, lint and nag."""

import json
import re
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Capture, Match, Template

from cdk.app import build_deploy_tier
from cdk.config import ConfigError, DeployTierConfig

pytestmark = pytest.mark.engine  # every test here runs jsii (node), or synths

REPO_ROOT = Path(__file__).resolve().parents[2]
FEATURE_FLAGS = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
CONTEXT = {
    **FEATURE_FLAGS,
    # cdk.json keeps this on, so `cdk synth` stops at the first error annotation (a cdk-nag
    # finding among them). Off here, a finding fails the nag test by name, and the other
    # tests still run.
    "@aws-cdk/core:annotationsInValidationReport": False,
    "domain": "example.com",
    "host": "edge7",
    "backup_check_rate_minutes": "30",  # as `-c` passes it: a string
    "alarm_email": "ops@example.com",
    "agent_url": "https://agent.example.com",
    "breakglass_url": "https://203.0.113.7:8443",
    "breakglass_cert_sha256": "AB:" * 31 + "AB",
}
ALLOWED_SUPPRESSIONS = {"AwsSolutions-SMG4", "AwsSolutions-IAM5", "AwsSolutions-L1"}


@pytest.fixture(scope="module")
def lambdas_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lambdas")
    for name in ("health_probe", "backup_check"):
        (root / name).mkdir()
        (root / name / "handler.py").write_text(
            f"def handler(event, context):\n    return {{'function': '{name}'}}\n"
        )
    (root / "health_probe" / "requirements.txt").write_text("httpx  # the agent client\n")
    return root


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="module")
def stack(lambdas_root: Path, outdir: Path) -> cdk.Stack:
    app = cdk.App(context=CONTEXT, outdir=str(outdir))
    return build_deploy_tier(app, lambdas_root=lambdas_root)


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


def only_id(template: Template, resource_type: str, prefix: str) -> str:
    ids = [key for key in template.find_resources(resource_type) if key.startswith(prefix)]
    assert len(ids) == 1, f"{resource_type} {prefix}*: {ids}"
    return ids[0]


def statements_of(template: Template, policy_id: str) -> list[dict]:
    policy = template.to_json()["Resources"][policy_id]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


# Backups bucket


def test_backups_bucket_is_versioned_encrypted_private_and_logged(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LoggingConfiguration": {
                "DestinationBucketName": {
                    "Ref": only_id(template, "AWS::S3::Bucket", "StorageAccessLogs")
                },
                "LogFilePrefix": "backups/",
            },
        },
    )


def test_backups_age_into_colder_storage_and_old_versions_expire(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Status": "Enabled",
                                "Transitions": [
                                    {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
                                    {"StorageClass": "GLACIER_IR", "TransitionInDays": 90},
                                ],
                                "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_backups_bucket_survives_stack_deletion(template: Template) -> None:
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


@pytest.mark.parametrize("bucket_prefix", ["StorageBackups", "StorageAccessLogs"])
def test_bucket_refuses_requests_without_tls(template: Template, bucket_prefix: str) -> None:
    bucket_id = only_id(template, "AWS::S3::Bucket", bucket_prefix)
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Principal": {"AWS": "*"},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


# Functions and schedules


@pytest.mark.parametrize(
    ("function_prefix", "expression"),
    [
        ("HealthProbeFunction", "rate(1 minute)"),
        ("BackupCheckFunction", "rate(30 minutes)"),
    ],
)
def test_function_runs_on_its_schedule(
    template: Template, function_prefix: str, expression: str
) -> None:
    function_id = only_id(template, "AWS::Lambda::Function", function_prefix)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": expression,
            "State": "ENABLED",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [function_id, "Arn"]}})],
        },
    )


def test_functions_use_python312_the_handler_module_and_the_powertools_layer(
    template: Template,
) -> None:
    layer = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "Handler": "handler.handler",
            "MemorySize": 256,
            "Architectures": ["x86_64"],
            "Layers": [layer],
        },
    )
    assert "AWSLambdaPowertoolsPythonV3-python312-x86_64:27" in json.dumps(layer.as_object())


def test_health_probe_finishes_before_the_next_run_starts(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like({"POWERTOOLS_SERVICE_NAME": "health_probe"})
            },
            "Timeout": 55,
        },
    )


def test_functions_receive_context_and_resource_names(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "backup_check",
                    "POWERTOOLS_METRICS_NAMESPACE": "MatrxShip",
                    "MATRX_DOMAIN": "example.com",
                    "MATRX_HOST": "edge7",
                    "MATRX_AGENT_URL": "https://agent.example.com",
                    "MATRX_MANAGER_CONSOLE_URL": "https://manager.example.com",
                    "MATRX_BREAKGLASS_URL": "https://203.0.113.7:8443",
                    "MATRX_BREAKGLASS_CERT_SHA256": "ab" * 32,
                    "MATRX_PROBE_RATE_MINUTES": "1",
                    "MATRX_BACKUP_CHECK_RATE_MINUTES": "30",
                    "MATRX_S3_BUCKET": {
                        "Ref": only_id(template, "AWS::S3::Bucket", "StorageBackups")
                    },
                    "MATRX_ALARM_TOPIC_ARN": {
                        "Ref": only_id(template, "AWS::SNS::Topic", "AlertsTopic")
                    },
                    "MATRX_AGENT_TOKEN_SECRET_ARN": {
                        "Ref": only_id(template, "AWS::SecretsManager::Secret", "SecretsAgentToken")
                    },
                    "MATRX_DATABASE_URL_SECRET_ARN": {
                        "Ref": only_id(
                            template, "AWS::SecretsManager::Secret", "SecretsDatabaseUrl"
                        )
                    },
                }
            }
        },
    )


def test_function_code_is_the_handler_with_matrx_ship_and_vendored_httpx(
    template: Template,
    outdir: Path,
) -> None:
    function_id = only_id(template, "AWS::Lambda::Function", "HealthProbeFunction")
    key = template.to_json()["Resources"][function_id]["Properties"]["Code"]["S3Key"]
    bundle = outdir / f"asset.{key.removesuffix('.zip')}"
    assert "'health_probe'" in (bundle / "handler.py").read_text()
    assert (bundle / "matrx_ship" / "__init__.py").is_file()
    for package in ("httpx", "httpcore", "h11", "anyio", "idna", "certifi"):
        assert (bundle / package / "__init__.py").is_file(), package
    assert not (bundle / "boto3").exists()
    assert not list(bundle.rglob("*.so")), "compiled code for this machine must not ship"


@pytest.mark.parametrize("function_prefix", ["HealthProbeRole", "BackupCheckRole"])
def test_function_reads_only_its_two_secrets(template: Template, function_prefix: str) -> None:
    policy_id = only_id(template, "AWS::IAM::Policy", f"{function_prefix}DefaultPolicy")
    secret_statements = [
        s
        for s in statements_of(template, policy_id)
        if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))
    ]
    assert secret_statements == [
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Resource": [
                {"Ref": only_id(template, "AWS::SecretsManager::Secret", "SecretsAgentToken")},
                {"Ref": only_id(template, "AWS::SecretsManager::Secret", "SecretsDatabaseUrl")},
            ],
        }
    ]


def test_secrets_have_the_names_bootstrap_uses(template: Template) -> None:
    for name in ("matrx/agent-token", "matrx/database-url"):
        template.has_resource_properties("AWS::SecretsManager::Secret", {"Name": name})


# Alarms and the topic


def test_manager_down_alarms_on_two_of_three_failed_probes(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "matrx-edge7-manager-down",
            "Namespace": "MatrxShip",
            "MetricName": "ManagerDown",
            "Dimensions": [{"Name": "service", "Value": "health_probe"}],
            "Period": 60,
            "Statistic": "Maximum",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
        },
    )


def test_backup_stale_alarms_on_the_first_stale_check(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "MatrxShip",
            "MetricName": "BackupStale",
            "Dimensions": [{"Name": "service", "Value": "backup_check"}],
            "Period": 1800,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 1,
        },
    )


@pytest.mark.parametrize("function_prefix", ["HealthProbeFunction", "BackupCheckFunction"])
def test_each_function_has_an_errors_alarm(template: Template, function_prefix: str) -> None:
    function_id = only_id(template, "AWS::Lambda::Function", function_prefix)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function_id}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )


def test_a_silent_probe_is_an_alarm(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Invocations",
            "ComparisonOperator": "LessThanThreshold",
            "Threshold": 1,
            "TreatMissingData": "breaching",
        },
    )


def test_every_alarm_and_recovery_goes_to_the_topic(template: Template) -> None:
    topic = {"Ref": only_id(template, "AWS::SNS::Topic", "AlertsTopic")}
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 6
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [topic], name
        assert alarm["Properties"]["OKActions"] == [topic], name


def test_topic_is_encrypted_tls_only_and_mails_the_operator(template: Template) -> None:
    topic_id = only_id(template, "AWS::SNS::Topic", "AlertsTopic")
    key_id = only_id(template, "AWS::KMS::Key", "AlertsKey")
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {
            "KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
        },
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": "ops@example.com",
            "TopicArn": {"Ref": topic_id},
        },
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                            }
                        )
                    ]
                )
            },
        },
    )


def test_dashboard_exists(template: Template) -> None:
    template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": "matrx-edge7"})


# The agent's identity


def test_agent_can_touch_only_its_host_prefix(template: Template) -> None:
    user_id = only_id(template, "AWS::IAM::User", "AgentUser")
    policy_id = only_id(template, "AWS::IAM::Policy", "AgentBackupPrefixAccess")
    template.has_resource_properties("AWS::IAM::Policy", {"Users": [{"Ref": user_id}]})
    bucket_arn = {"Fn::GetAtt": [only_id(template, "AWS::S3::Bucket", "StorageBackups"), "Arn"]}
    statements = statements_of(template, policy_id)
    for statement in statements:
        actions = as_list(statement["Action"])
        assert statement["Effect"] == "Allow"
        assert not any(a in ("*", "s3:*") or a.endswith("*") for a in actions), actions
        for resource in as_list(statement["Resource"]):
            rendered = json.dumps(resource)
            if actions == ["s3:ListBucket"]:
                assert resource == bucket_arn
                assert statement["Condition"] == {"StringLike": {"s3:prefix": ["edge7/*"]}}
            else:
                assert resource == {"Fn::Join": ["", [bucket_arn, "/edge7/*"]]}, rendered
    object_actions = {a for s in statements for a in as_list(s["Action"])} - {"s3:ListBucket"}
    assert object_actions == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
    }
    assert "s3:DeleteObjectVersion" not in json.dumps(statements)


def test_backup_check_reads_only_the_host_prefix(template: Template) -> None:
    policy_id = only_id(template, "AWS::IAM::Policy", "BackupCheckRoleDefaultPolicy")
    s3_statements = [
        s
        for s in statements_of(template, policy_id)
        if any(a.startswith("s3:") for a in as_list(s["Action"]))
    ]
    rendered = json.dumps(s3_statements)
    assert "/edge7/*" in rendered and '"/*"' not in rendered
    assert {a for s in s3_statements for a in as_list(s["Action"])} == {
        "s3:GetObject",
        "s3:GetObjectAttributes",
        "s3:ListBucket",
    }


def test_health_probe_has_no_bucket_access(template: Template) -> None:
    policy_id = only_id(template, "AWS::IAM::Policy", "HealthProbeRoleDefaultPolicy")
    assert "s3:" not in json.dumps(statements_of(template, policy_id))


def test_outputs_give_bootstrap_what_it_needs(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert {
        "BackupsBucketName",
        "AlarmTopicArn",
        "AgentUserName",
        "AgentUserArn",
        "AgentBackupPrefix",
        "AgentTokenSecretArn",
        "DatabaseUrlSecretArn",
    } <= set(outputs)
    assert outputs["AgentBackupPrefix"]["Value"] == "edge7/"


# Lint and nag


def test_template_passes_cfn_lint(template: Template, tmp_path: Path) -> None:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template.to_json()))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")  # the console script of this venv
    result = subprocess.run(
        [str(cfn_lint), "-i", "W3005", "--", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_unsuppressed_aws_solutions_findings(stack: cdk.Stack, template: Template) -> None:
    annotations = Annotations.from_stack(stack)
    rule = Match.string_like_regexp("AwsSolutions-.*")
    assert annotations.find_error("*", rule) == []
    assert annotations.find_warning("*", rule) == []


def test_every_nag_suppression_says_why(template: Template) -> None:
    suppressions = [
        (name, entry)
        for name, resource in template.to_json()["Resources"].items()
        for entry in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert suppressions
    for name, entry in suppressions:
        assert entry["id"] in ALLOWED_SUPPRESSIONS, (name, entry["id"])
        assert len(entry["reason"]) >= 60, (name, entry)
        if entry["id"] == "AwsSolutions-IAM5":
            # Without applies_to, one suppression would hide every wildcard on the resource.
            assert entry.get("applies_to"), (name, entry)
            assert all(a.endswith("/edge7/*") for a in entry["applies_to"]), (name, entry)


# Context


def test_context_values_from_the_command_line_are_parsed() -> None:
    app = cdk.App(
        context={
            "probe_rate_minutes": "5",
            "domain": "ops.test",
            "breakglass_cert_sha256": "AB:" * 31 + "AB",
        }
    )
    config = DeployTierConfig.from_context(app.node)
    assert config.probe_rate_minutes == 5
    assert config.manager_console_url == "https://manager.ops.test"
    assert config.breakglass_cert_sha256 == "ab" * 32
    assert config.prefix == "vps1/"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("host", "*"),
        ("host", "vps1/../other"),
        ("host", ""),
        ("probe_rate_minutes", "0"),
        ("probe_rate_minutes", "often"),
        ("agent_url", "http://agent.example.com"),
        ("alarm_email", "nobody"),
        ("breakglass_cert_sha256", "abc"),
    ],
)
def test_bad_context_is_refused(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        DeployTierConfig.from_context(cdk.App(context={key: value}).node)


def test_a_missing_handler_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape("health_probe/handler.py")):
        build_deploy_tier(cdk.App(context=FEATURE_FLAGS), lambdas_root=tmp_path)
