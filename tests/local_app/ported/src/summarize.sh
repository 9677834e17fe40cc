#!/usr/bin/env bash
# Count the rows of the train and test sets: a non-Python entry point (command=["bash"]).
# The step's values come as CSM_* environment variables; returned values go to
# $CSM_RETURNS_FILE as one JSON object.
set -euo pipefail

train_rows=$(( $(wc -l < "$CSM_INPUT_train/train.csv") - 1 ))
test_rows=$(( $(wc -l < "$CSM_INPUT_test/test.csv") - 1 ))
echo "train=$train_rows test=$test_rows host=$CSM_CURRENT_HOST of $CSM_HOSTS" \
    > "$CSM_OUTPUT_report/report.txt"
printf '{"train_rows": %d, "test_rows": %d}\n' "$train_rows" "$test_rows" > "$CSM_RETURNS_FILE"
