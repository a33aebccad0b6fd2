"""Standard event names shared by the Automagik projects."""


class StandardEvents:
    """Event names used across the Automagik projects, for consistent telemetry."""

    #: Feature usage. Attributes: ``feature_name``, ``feature_category``.
    FEATURE_USED = "automagik.feature.used"
    #: An API request. Attributes: ``endpoint``, ``method``, ``status``.
    API_REQUEST = "automagik.api.request"
    #: A CLI command. Attributes: ``command``, ``subcommand``.
    COMMAND_EXECUTED = "automagik.cli.command"
    #: An operation's latency. Attributes: ``operation_type``, ``duration_ms``.
    OPERATION_LATENCY = "automagik.performance.latency"
    #: An error. Attributes: ``error_code``, ``error_category``, ``severity``.
    ERROR_OCCURRED = "automagik.error"
    #: Service health. Attributes: ``service_name``, ``status``.
    SERVICE_HEALTH = "automagik.health"
