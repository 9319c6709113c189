/**
 * The zsh script: the same walk as bash's over the same data, with each word's help shown beside
 * it (`_describe`), files from `_files`, and `--flag=value` split with `compset`. Loaded from a
 * folder on $fpath as `_NAME`, or sourced after compinit.
 */
import { type CompletionNode, identifier, valueCaseArms, type Word } from "./tree.ts";

export function zshScript(nodes: readonly CompletionNode[], name: string, header: string): string {
  const f = `_${identifier(name)}`;
  const described = (list: readonly Word[]) =>
    `(${list.map((w) => quote(`${w.word.replaceAll(":", "\\:")}:${w.help}`)).join(" ")})`;
  return `#compdef ${name}
${header}
# Install: ${name} completions zsh > ~/.zfunc/_${name}, with ~/.zfunc on $fpath before compinit
# (fpath=(~/.zfunc $fpath) in ~/.zshrc)

# Whether $2 is a sub-command of the command path $1.
${f}__child() {
  case "$1|$2" in
${
    nodes.flatMap((n) => n.children.map((c) => `    (${quote(`${n.key}|${c.word}`)}) return 0 ;;`))
      .join("\n")
  }
  esac
  return 1
}

# The sub-commands ($children) and flags ($flags) of the command path $1, as "word:help".
${f}__words() {
  case $1 in
${
    nodes.map((n) =>
      `    (${quote(n.key)})\n      children=${described(n.children)}\n      flags=${
        described(n.flags)
      }\n      ;;`
    ).join("\n")
  }
  esac
}

# Whether flag $2 of the command path $1 takes a value; which ones in $kind and $choices.
${f}__value() {
  case "$1|$2" in
${
    valueCaseArms(nodes, quote, (choices) => `(${choices.map(quote).join(" ")})`).map((
      { pattern, set },
    ) => `    (${pattern}) ${set} ;;`)
      .join("\n")
  }
    (*) return 1 ;;
  esac
}

${f}() {
  local node='' flag='' kind='' word i
  local -a children flags choices
  for ((i = 2; i < CURRENT; i++)); do
    word=\${words[i]}
    if [[ -n $flag ]]; then
      flag=''
      continue
    fi
    case $word in
      (--) return 1 ;;
      (-*=*) ;;
      (-*) ${f}__value "$node" "$word" && flag=$word ;;
      (*) ${f}__child "$node" "$word" && node=\${node:+$node }$word ;;
    esac
  done
  if [[ -z $flag && $PREFIX == -*=* ]]; then
    flag=\${PREFIX%%=*}
    compset -P '*='
  fi
  if [[ -n $flag ]]; then
    ${f}__value "$node" "$flag" || return 1
    case $kind in
      (choices) compadd -a choices ;;
      (file) _files ;;
      (directory) _files -/ ;;
      (*) _message -e values 'value' ;;
    esac
    return
  fi
  ${f}__words "$node"
  if [[ $PREFIX == -* || \${#children} -eq 0 ]]; then
    _describe -t flags 'flag' flags
  else
    _describe -t commands 'command' children
  fi
}

if [[ $funcstack[1] == ${f} ]]; then
  ${f} "$@"
else
  compdef ${f} ${name}
fi
`;
}

function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
