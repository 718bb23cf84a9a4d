{{/* The release's full name, cut to 63 characters. */}}
{{- define "polyfleet.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object, without the instance (for objects that add the operator's selector). */}}
{{- define "polyfleet.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
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
app.kubernetes.io/name: polyfleet-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "polyfleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "polyfleet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "polyfleet.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* NATS URL: the bundled server's Service, or the configured one. */}}
{{- define "polyfleet.natsUrl" -}}
{{- if .Values.nats.bundled.enabled -}}
{{- printf "nats://%s-nats.%s.svc:4222" (include "polyfleet.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/* Redis URL: the bundled server's Service, or the configured one. */}}
{{- define "polyfleet.redisUrl" -}}
{{- if .Values.redis.bundled.enabled -}}
{{- printf "redis://%s-redis.%s.svc:6379" (include "polyfleet.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{/* The Redis password Secret's name (the bundled Redis makes one when none is named). */}}
{{- define "polyfleet.redisSecretName" -}}
{{- if .Values.redis.passwordSecret.name -}}
{{- .Values.redis.passwordSecret.name -}}
{{- else if .Values.redis.bundled.enabled -}}
{{- printf "%s-redis" (include "polyfleet.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Leader election: on when asked, and always with more than one replica. */}}
{{- define "polyfleet.leaderElection" -}}
{{- if or .Values.operator.leaderElection (gt (int .Values.operator.replicas) 1) -}}true{{- else -}}false{{- end -}}
{{- end -}}
