"""Pipeline on Dagster: the step order from the asset graph, the pipeline job, where each revision stands, what runs next, resuming and running it, the progress and stage sensors."""
