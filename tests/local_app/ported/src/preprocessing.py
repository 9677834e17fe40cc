"""Split customer records into train and test sets: a SageMaker ScriptProcessor script,
kept exactly as it ran there (fixed /opt/ml/processing paths, a helper package beside it).

Reads every CSV file in /opt/ml/processing/input, cleans each row with my_pkg.features and
writes /opt/ml/processing/output/train/train.csv and /opt/ml/processing/output/test/test.csv.
SPLIT_RATIO (environment) is the share of rows that go to the test set.
"""

import argparse
import csv
import os

from my_pkg.features import clean_row, goes_to_test

INPUT_DIR = "/opt/ml/processing/input"
OUTPUT_DIR = "/opt/ml/processing/output"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--label-column", default="label")
    args = parser.parse_args()
    ratio = float(os.environ["SPLIT_RATIO"])

    rows = []
    for name in sorted(os.listdir(INPUT_DIR)):
        path = os.path.join(INPUT_DIR, name)
        if name.endswith(".csv") and os.path.isfile(path):  # code/ is a directory here
            with open(path, newline="") as handle:
                rows += [clean_row(row, args.label_column) for row in csv.DictReader(handle)]

    splits = {"train": [], "test": []}
    for index, row in enumerate(rows):
        splits["test" if goes_to_test(index, ratio) else "train"].append(row)
    for split, chosen in splits.items():
        os.makedirs(os.path.join(OUTPUT_DIR, split), exist_ok=True)
        with open(os.path.join(OUTPUT_DIR, split, split + ".csv"), "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["customer_id", "tenure", "label"])
            writer.writeheader()
            writer.writerows(chosen)
    print("%d train rows, %d test rows" % (len(splits["train"]), len(splits["test"])))


if __name__ == "__main__":
    main()
