"""The rules of :class:`~constructs_sm.nag.pack.ProcessingPipelineChecks`, one module per
resource family: :mod:`.bucket` (channel buckets), :mod:`.iam` (roles and policies),
:mod:`.job` (processing-job settings), :mod:`.task` (Timeout, Retry, Catch of processing
tasks) and :mod:`.state_machine`; :mod:`.base` holds the :class:`~.base.Rule` type.

Each rule is declared beside its check function; the pack lists them in report order.
"""
