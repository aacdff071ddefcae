"""One module per command, each a typed function that `retention.cli` calls with parsed values.

    validate      check policy files offline                    validate.validate
    plan          what the policies would delete now            plan.plan
    apply FILE    execute a reviewed plan file                  apply_plan.apply_plan_file
    apply --auto-approve
                  plan and apply in one step                    plan_and_apply.plan_and_apply
    run           the reconciler pod                            run.run
    demo          the whole loop on the embedded emulator       demo.run_demo

`common` holds what several commands share: the client from the environment, the retry
option, output files written atomically. A command raises `RetentionError` for anything the
user can act on; `retention.cli` turns it into one line and an exit code.
"""
