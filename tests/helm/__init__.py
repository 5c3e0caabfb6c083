"""Tests of the Helm chart cronjobs/helm/tensile and the kustomize overlays of cronjobs/."""
