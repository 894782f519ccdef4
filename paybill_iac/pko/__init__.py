"""Fleets on the Pulumi Kubernetes Operator (v2): one `Stack` resource per cell and per tenant.

    settings   the `pko:` section of paybill.yaml: program source (git or Flux), Secret references for
               the backend and the clouds, workspace size, retry backoff
    manifests  Stack resources from the stack specs (the same config as `paybill-iac generate`), as
               deterministic YAML for GitOps (`paybill-iac fleet manifests`)
    kube       server-side apply and listing through the official `kubernetes` client (extra `pko`)
    status     a Stack's conditions (Ready, Reconciling, Stalled) and status.lastUpdate, as one state;
               rolled up by wave, plan and cloud
    rollout    `paybill-iac fleet apply --engine pko`: wave by wave, halting past a failure threshold
    drift      `paybill-iac drift --fleet --engine pko`: a check Stack per tenant (a refreshed preview), its
               outcome as in_sync, drifted or error

The operator runs no CrossGuard policy packs (pulumi-kubernetes-operator#366): its stacks rely on the
in-program enforcement of the stack programs (paybill_policies.inprogram), which every Stack's
`PAYBILL_ACTOR` feeds. Importing this package imports neither the Kubernetes client nor pulumi.
"""
