"""Row cleaning and a deterministic train/test split."""


def clean_row(row, label_column):
    """Trim every field, name the label column ``label`` and make it 0 or 1."""
    cleaned = {key.strip(): value.strip() for key, value in row.items()}
    label = cleaned.pop(label_column)
    return {
        "customer_id": cleaned["customer_id"],
        "tenure": int(cleaned["tenure"]),
        "label": 1 if label.lower() in ("1", "yes", "true") else 0,
    }


def goes_to_test(index, ratio):
    """Whether row ``index`` goes to the test set: ``ratio`` of the rows, spread evenly."""
    return int((index + 1) * ratio) != int(index * ratio)
