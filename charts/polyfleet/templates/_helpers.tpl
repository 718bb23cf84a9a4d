{{/* The chart's name, or nameOverride. */}}
{{- define "polyfleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name (fullnameOverride, else release-name), cut to 63 characters. */}}
{{- define "polyfleet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A StatefulSet's name: "<fullname>-<component>" with the full name cut so that the whole stays
     within 52 characters (a StatefulSet's Pods carry a controller-revision-hash label made of
     the name plus 11 characters, and labels end at 63). Call with (list . "nats"). */}}
{{- define "polyfleet.statefulName" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $room := sub 51 (len $component) | int -}}
{{- printf "%s-%s" (include "polyfleet.fullname" $root | trunc $room | trimSuffix "-") $component -}}
{{- end -}}

{{/* Labels of every object, without the instance (for objects that add the operator's selector).
     Not for Pod templates: helm.sh/chart there would restart the operator on every chart bump. */}}
{{- define "polyfleet.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "polyfleet.podLabels" . }}
{{- end -}}

{{/* Labels of Pod templates: what does not change with the chart's version. */}}
{{- define "polyfleet.podLabels" -}}
app.kubernetes.io/part-of: polyfleet
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "polyfleet.labels" -}}
{{ include "polyfleet.commonLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of the operator's pods. */}}
{{- define "polyfleet.operatorSelector" -}}
app.kubernetes.io/name: {{ printf "%s-operator" (include "polyfleet.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "polyfleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "polyfleet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false (binding RBAC to the namespace's default ServiceAccount is refused)" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "polyfleet.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* NATS URL: the bundled server's Service (fully qualified: agents run in other namespaces),
     or the configured one, which must be given when nothing is bundled. */}}
{{- define "polyfleet.natsUrl" -}}
{{- if .Values.nats.bundled.enabled -}}
{{- printf "nats://%s.%s.svc:4222" (include "polyfleet.statefulName" (list . "nats")) .Release.Namespace -}}
{{- else -}}
{{- required "nats.url is required when nats.bundled.enabled is false (a fully qualified URL: agents run in other namespaces)" .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/* Redis URL: the bundled server's Service, or the configured one. */}}
{{- define "polyfleet.redisUrl" -}}
{{- if .Values.redis.bundled.enabled -}}
{{- printf "redis://%s.%s.svc:6379" (include "polyfleet.statefulName" (list . "redis")) .Release.Namespace -}}
{{- else -}}
{{- required "redis.url is required when redis.bundled.enabled is false (a fully qualified URL: agents run in other namespaces)" .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{/* The Redis password Secret's name: auth.existingSecret, else (bundled Redis) the one the
     operator generates once. Empty: Redis has no password. */}}
{{- define "polyfleet.redisSecretName" -}}
{{- if .Values.redis.auth.existingSecret -}}
{{- .Values.redis.auth.existingSecret -}}
{{- else if .Values.redis.bundled.enabled -}}
{{- printf "%s-redis-password" (include "polyfleet.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Key of the password in that Secret. */}}
{{- define "polyfleet.redisSecretKey" -}}
{{- if .Values.redis.auth.existingSecret -}}{{ .Values.redis.auth.existingSecretKey }}{{- else -}}password{{- end -}}
{{- end -}}

{{/* Leader election: on when asked, and always with more than one replica. */}}
{{- define "polyfleet.leaderElection" -}}
{{- if or .Values.operator.leaderElection (gt (int .Values.operator.replicas) 1) -}}true{{- else -}}false{{- end -}}
{{- end -}}

{{/* Whether to render CRD (list . "name"): crds.create, and the CRD is not already owned by
     another release or installed outside Helm (a second release in a shared cluster then
     installs without an ownership conflict). Offline renders (helm template, Argo CD) see no
     cluster and render every CRD. */}}
{{- define "polyfleet.installCrd" -}}
{{- $root := index . 0 -}}
{{- if $root.Values.crds.create -}}
{{- $live := lookup "apiextensions.k8s.io/v1" "CustomResourceDefinition" "" (index . 1) -}}
{{- if not $live -}}true
{{- else -}}
{{- $ann := dig "metadata" "annotations" dict $live -}}
{{- if and (eq (get $ann "meta.helm.sh/release-name") $root.Release.Name) (eq (get $ann "meta.helm.sh/release-namespace") $root.Release.Namespace) -}}true{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The operator's metrics Service (a Service name ends at 63 characters). */}}
{{- define "polyfleet.metricsService" -}}
{{- printf "%s-metrics" (include "polyfleet.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
