# bash completion for runbook: commands, each command's options, the values of --lang and
# --rollback, files for -i and --audit-log, runbook names, --set keys and values, journals
# for `resume`. What only runbook knows (the runbooks it finds, a runbook's parameters and
# inventory schema, the journals of unfinished runs) comes from `runbook` itself, asked
# with $_RUNBOOK_COMPLETE set (modules/runbook/complete.lua). Needs bash 4.3 or later.

# The commands (runbook --help).
_runbook_commands() {
  echo run plan check resume history report list repl version
}

# The long options command takes (runbook COMMAND --help); tests/completion_spec.lua keeps
# this in step with the help.
_runbook_options_of() {
  local own=''
  case $1 in
    run) own='--inventory --set --yes --json --lang --rollback --audit-log --metrics ' ;;
    resume) own='--inventory --set --yes --json --lang --rollback --audit-log ' ;;
    plan) own='--inventory --set --json --lang --detailed-exitcode ' ;;
    check) own='--inventory --set --json --lang ' ;;
    list|version) own='--json ' ;;
    history) own='--json --lang --resumable ' ;;
    report) own='--output --format --lang ' ;;
    repl) own='--inventory --lang ' ;;
  esac
  echo "$own--verbose --quiet --help"
}

# Whether $1 is an option whose value is the next word.
_runbook_takes_value() {
  case $1 in
    -i|--inventory|--set|--lang|--rollback|--audit-log|-o|--output|--format|--metrics)
      return 0 ;;
  esac
  return 1
}

# runbook's candidates for what ($1), asked with the runbook arguments that follow: one a
# line, without the descriptions runbook adds after a tab.
_runbook_ask() {
  local what=$1 line
  shift
  _RUNBOOK_COMPLETE=$what command runbook "$@" 2>/dev/null </dev/null |
    while IFS= read -r line; do printf '%s\n' "${line%%$'\t'*}"; done
}

# The words of the line into the array words, with the pieces bash splits at "=" joined
# again (--lang=de, --set lab.fault=none); cword is the index of the word under the
# cursor, cur that word up to the cursor's piece of it.
_runbook_join_words() {
  local i token
  words=()
  for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
    token=${COMP_WORDS[i]}
    if ((${#words[@]} > 1)) && [[ $token == "=" || ${words[-1]} == *= ]]; then
      words[-1]+=$token
    else
      words+=("$token")
    fi
    if ((i == COMP_CWORD)); then
      cword=$((${#words[@]} - 1)) cur=${words[-1]}
    fi
  done
}

# The command and its argument, into command and argument: the first words that are
# neither options nor an option's value, the word under the cursor aside.
_runbook_find_positionals() {
  local i word
  command='' argument=''
  for ((i = 1; i < ${#words[@]}; i++)); do
    word=${words[i]}
    if ((i == cword)); then
      continue
    elif _runbook_takes_value "$word"; then
      ((i++))
    elif [[ $word != -* && -z $command ]]; then
      command=$word
    elif [[ $word != -* && -z $argument ]]; then
      argument=$word
    fi
  done
}

# Each candidate producer below adds whole words to the array candidates of _runbook,
# each after $prefix (the "--lang=" of --lang=de, else empty); _runbook keeps those that
# start with what is typed.

# Adds the files and directories starting with $1 (of the files, those matching glob $2).
_runbook_add_files() {
  local typed=$1 glob=${2:-*} path
  compopt -o filenames 2>/dev/null
  while IFS= read -r path; do
    # shellcheck disable=SC2053 # $glob is a pattern
    [[ -d $path || ${path##*/} == $glob ]] && candidates+=("$prefix$path")
  done < <(compgen -f -- "$typed")
}

# Adds the candidates runbook prints for what ($1), asked with the arguments that follow.
_runbook_add_asked() {
  local line
  while IFS= read -r line; do
    candidates+=("$prefix$line")
  done < <(_runbook_ask "$@")
}

# Adds the --set candidates for what is typed after it ($1): KEY= before the "=" (a key
# ending in "." starts a longer path), KEY=VALUE after it; from the runbook (or journal)
# being completed.
_runbook_add_set_words() {
  local typed=$1 key line
  [[ -n $argument ]] || return
  # shellcheck disable=SC2088 # the word as typed: bash has not expanded its ~
  [[ $argument == '~/'* ]] && argument=$HOME/${argument#'~/'}
  if [[ $typed == *=* ]]; then
    key=${typed%%=*}
    local prefix=$prefix$key=
    _runbook_add_asked set-values check "$argument" --set "$key="
    return
  fi
  compopt -o nospace 2>/dev/null
  while IFS= read -r line; do
    [[ $line == *. ]] || line+="="
    candidates+=("$prefix$line")
  done < <(_runbook_ask set-keys check "$argument")
}

# Adds the candidates for the value of option $1, given what is typed of it ($2).
_runbook_add_values_of() {
  local word
  case $1 in
    -i|--inventory) _runbook_add_files "$2" '*.lua' ;;
    --audit-log|-o|--output|--metrics) _runbook_add_files "$2" ;;
    --format) for word in html md; do candidates+=("$prefix$word"); done ;;
    --lang) for word in en de fr; do candidates+=("$prefix$word"); done ;;
    --rollback) for word in ask auto never; do candidates+=("$prefix$word"); done ;;
    --set) _runbook_add_set_words "$2" ;;
  esac
}

# Adds the candidates for a word that is no option ($1 typed): the command, else its
# argument (a runbook; a journal for resume).
_runbook_add_positional_words() {
  local typed=$1 listed
  if [[ -z $command || $command == help && -z $argument ]]; then
    read -ra listed <<<"$(_runbook_commands)"
    candidates+=("${listed[@]}")
  elif [[ -z $argument ]]; then
    case $command in
      run|plan|check)
        _runbook_add_asked runbooks list
        [[ $typed == */* ]] && _runbook_add_files "$typed" '*.lua'
        ;;
      resume|report)
        compopt -o filenames 2>/dev/null
        _runbook_add_asked journals list
        [[ $typed == */* ]] && _runbook_add_files "$typed" '*.jsonl'
        ;;
    esac
  fi
}

# Adds the candidates for the word under the cursor ($1), after the word $2.
_runbook_add_candidates() {
  local cur=$1 prev=$2 prefix='' listed
  if _runbook_takes_value "$prev"; then
    _runbook_add_values_of "$prev" "$cur"
  elif [[ $cur == --*=* ]]; then
    prefix=${cur%%=*}=
    _runbook_add_values_of "${cur%%=*}" "${cur#*=}"
  elif [[ $cur == -i?* ]]; then
    prefix=-i
    _runbook_add_values_of -i "${cur#-i}"
  elif [[ $cur == -* ]]; then
    read -ra listed <<<"$(_runbook_options_of "$command")"
    candidates+=("${listed[@]}")
  else
    _runbook_add_positional_words "$cur"
  fi
}

# Completes the word under the cursor: COMP_WORDS and COMP_CWORD in, COMPREPLY out. bash
# replaces only the piece of the word after its last "=" (COMP_WORDBREAKS), so each
# candidate loses what comes before that piece.
_runbook() {
  local words cword cur command argument candidates=() candidate
  _runbook_join_words
  _runbook_find_positionals
  local prev=${words[cword - 1]}
  local piece=${COMP_WORDS[COMP_CWORD]}
  [[ $piece == "=" ]] && piece=
  local before=${cur%"$piece"}
  _runbook_add_candidates "$cur" "$prev"
  COMPREPLY=()
  for candidate in "${candidates[@]}"; do
    [[ $candidate == "$cur"* ]] && COMPREPLY+=("${candidate#"$before"}")
  done
}

complete -F _runbook runbook
