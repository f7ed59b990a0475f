// Generated from grammar/parser.ts by grammar/generate-cst.ts: do not edit.

import type { CstNode, ICstVisitor, IToken } from 'chevrotain';

export interface FileCstNode extends CstNode {
  name: 'file';
  children: FileCstChildren;
}

export type FileCstChildren = {
  appHeader?: AppHeaderCstNode[];
  include?: IncludeCstNode[];
  publishDecl?: PublishDeclCstNode[];
  ephemeralDecl?: EphemeralDeclCstNode[];
  embeddedDecl?: EmbeddedDeclCstNode[];
  subscribeDecl?: SubscribeDeclCstNode[];
  observeDecl?: ObserveDeclCstNode[];
};

export interface AppHeaderCstNode extends CstNode {
  name: 'appHeader';
  children: AppHeaderCstChildren;
}

export type AppHeaderCstChildren = {
  App?: IToken[];
  Identifier?: IToken[];
};

export interface IncludeCstNode extends CstNode {
  name: 'include';
  children: IncludeCstChildren;
}

export type IncludeCstChildren = {
  Include?: IToken[];
  StringLiteral?: IToken[];
};

export interface PublishDeclCstNode extends CstNode {
  name: 'publishDecl';
  children: PublishDeclCstChildren;
}

export type PublishDeclCstChildren = {
  Publish?: IToken[];
  Identifier?: IToken[];
  asClause?: AsClauseCstNode[];
  extendsClause?: ExtendsClauseCstNode[];
  whenClause?: WhenClauseCstNode[];
  toClause?: ToClauseCstNode[];
  coalesceClause?: CoalesceClauseCstNode[];
  fieldBlock?: FieldBlockCstNode[];
};

export interface EphemeralDeclCstNode extends CstNode {
  name: 'ephemeralDecl';
  children: EphemeralDeclCstChildren;
}

export type EphemeralDeclCstChildren = {
  Ephemeral?: IToken[];
  Identifier?: IToken[];
  toClause?: ToClauseCstNode[];
  fieldBlock?: FieldBlockCstNode[];
};

export interface EmbeddedDeclCstNode extends CstNode {
  name: 'embeddedDecl';
  children: EmbeddedDeclCstChildren;
}

export type EmbeddedDeclCstChildren = {
  Embedded?: IToken[];
  Identifier?: IToken[];
  fieldBlock?: FieldBlockCstNode[];
};

export interface SubscribeDeclCstNode extends CstNode {
  name: 'subscribeDecl';
  children: SubscribeDeclCstChildren;
}

export type SubscribeDeclCstChildren = {
  Subscribe?: IToken[];
  Identifier?: IToken[];
  asClause?: AsClauseCstNode[];
  extendsClause?: ExtendsClauseCstNode[];
  whenClause?: WhenClauseCstNode[];
  fromClause?: FromClauseCstNode[];
  intoClause?: IntoClauseCstNode[];
  foreignKeyClause?: ForeignKeyClauseCstNode[];
  unmanagedClause?: UnmanagedClauseCstNode[];
  attributeBlock?: AttributeBlockCstNode[];
};

export interface ObserveDeclCstNode extends CstNode {
  name: 'observeDecl';
  children: ObserveDeclCstChildren;
}

export type ObserveDeclCstChildren = {
  Observe?: IToken[];
  Identifier?: IToken[];
  asClause?: AsClauseCstNode[];
  fromClause?: FromClauseCstNode[];
  attributeBlock?: AttributeBlockCstNode[];
};

export interface AsClauseCstNode extends CstNode {
  name: 'asClause';
  children: AsClauseCstChildren;
}

export type AsClauseCstChildren = {
  As?: IToken[];
  Identifier?: IToken[];
};

export interface ExtendsClauseCstNode extends CstNode {
  name: 'extendsClause';
  children: ExtendsClauseCstChildren;
}

export type ExtendsClauseCstChildren = {
  Extends?: IToken[];
  Identifier?: IToken[];
};

export interface WhenClauseCstNode extends CstNode {
  name: 'whenClause';
  children: WhenClauseCstChildren;
}

export type WhenClauseCstChildren = {
  When?: IToken[];
  Identifier?: IToken[];
  Equals?: IToken[];
  StringLiteral?: IToken[];
};

export interface ToClauseCstNode extends CstNode {
  name: 'toClause';
  children: ToClauseCstChildren;
}

export type ToClauseCstChildren = {
  To?: IToken[];
  StringLiteral?: IToken[];
};

export interface FromClauseCstNode extends CstNode {
  name: 'fromClause';
  children: FromClauseCstChildren;
}

export type FromClauseCstChildren = {
  From?: IToken[];
  StringLiteral?: IToken[];
};

export interface IntoClauseCstNode extends CstNode {
  name: 'intoClause';
  children: IntoClauseCstChildren;
}

export type IntoClauseCstChildren = {
  Into?: IToken[];
  Identifier?: IToken[];
};

export interface ForeignKeyClauseCstNode extends CstNode {
  name: 'foreignKeyClause';
  children: ForeignKeyClauseCstChildren;
}

export type ForeignKeyClauseCstChildren = {
  ForeignKey?: IToken[];
  Identifier?: IToken[];
  typeRef?: TypeRefCstNode[];
};

export interface CoalesceClauseCstNode extends CstNode {
  name: 'coalesceClause';
  children: CoalesceClauseCstChildren;
}

export type CoalesceClauseCstChildren = {
  Coalesce?: IToken[];
  Duration?: IToken[];
  NumberLiteral?: IToken[];
};

export interface UnmanagedClauseCstNode extends CstNode {
  name: 'unmanagedClause';
  children: UnmanagedClauseCstChildren;
}

export type UnmanagedClauseCstChildren = {
  Unmanaged?: IToken[];
};

export interface FieldBlockCstNode extends CstNode {
  name: 'fieldBlock';
  children: FieldBlockCstChildren;
}

export type FieldBlockCstChildren = {
  LCurly?: IToken[];
  separator?: SeparatorCstNode[];
  field?: FieldCstNode[];
  RCurly?: IToken[];
};

export interface AttributeBlockCstNode extends CstNode {
  name: 'attributeBlock';
  children: AttributeBlockCstChildren;
}

export type AttributeBlockCstChildren = {
  LCurly?: IToken[];
  separator?: SeparatorCstNode[];
  attributeRef?: AttributeRefCstNode[];
  RCurly?: IToken[];
};

export interface SeparatorCstNode extends CstNode {
  name: 'separator';
  children: SeparatorCstChildren;
}

export type SeparatorCstChildren = {
  Newline?: IToken[];
  Comma?: IToken[];
};

export interface FieldCstNode extends CstNode {
  name: 'field';
  children: FieldCstChildren;
}

export type FieldCstChildren = {
  Identifier?: IToken[];
  typeRef?: TypeRefCstNode[];
  belongsTo?: BelongsToCstNode[];
  embeds?: EmbedsCstNode[];
  copy?: CopyCstNode[];
  modifier?: ModifierCstNode[];
};

export interface TypeRefCstNode extends CstNode {
  name: 'typeRef';
  children: TypeRefCstChildren;
}

export type TypeRefCstChildren = {
  Identifier?: IToken[];
  LParen?: IToken[];
  typeArg?: TypeArgCstNode[];
  Comma?: IToken[];
  RParen?: IToken[];
  ArraySuffix?: IToken[];
  Question?: IToken[];
};

export interface TypeArgCstNode extends CstNode {
  name: 'typeArg';
  children: TypeArgCstChildren;
}

export type TypeArgCstChildren = {
  Identifier?: IToken[];
  StringLiteral?: IToken[];
  NumberLiteral?: IToken[];
};

export interface ModifierCstNode extends CstNode {
  name: 'modifier';
  children: ModifierCstChildren;
}

export type ModifierCstChildren = {
  Primary?: IToken[];
  Private?: IToken[];
  virtual?: VirtualCstNode[];
  column?: ColumnCstNode[];
  belongsTo?: BelongsToCstNode[];
  embeds?: EmbedsCstNode[];
  copy?: CopyCstNode[];
  aggregate?: AggregateCstNode[];
};

export interface VirtualCstNode extends CstNode {
  name: 'virtual';
  children: VirtualCstChildren;
}

export type VirtualCstChildren = {
  Virtual?: IToken[];
  LParen?: IToken[];
  Use?: IToken[];
  path?: PathCstNode[];
  Comma?: IToken[];
  RParen?: IToken[];
};

export interface CopyCstNode extends CstNode {
  name: 'copy';
  children: CopyCstChildren;
}

export type CopyCstChildren = {
  From?: IToken[];
  path?: PathCstNode[];
};

export interface AggregateCstNode extends CstNode {
  name: 'aggregate';
  children: AggregateCstChildren;
}

export type AggregateCstChildren = {
  Count?: IToken[];
  Sum?: IToken[];
  Min?: IToken[];
  Max?: IToken[];
  LParen?: IToken[];
  Identifier?: IToken[];
  Dot?: IToken[];
  Via?: IToken[];
  RParen?: IToken[];
};

export interface PathCstNode extends CstNode {
  name: 'path';
  children: PathCstChildren;
}

export type PathCstChildren = {
  Identifier?: IToken[];
  Dot?: IToken[];
};

export interface ColumnCstNode extends CstNode {
  name: 'column';
  children: ColumnCstChildren;
}

export type ColumnCstChildren = {
  Column?: IToken[];
  Identifier?: IToken[];
  StringLiteral?: IToken[];
};

export interface BelongsToCstNode extends CstNode {
  name: 'belongsTo';
  children: BelongsToCstChildren;
}

export type BelongsToCstChildren = {
  BelongsTo?: IToken[];
  Identifier?: IToken[];
  Question?: IToken[];
};

export interface EmbedsCstNode extends CstNode {
  name: 'embeds';
  children: EmbedsCstChildren;
}

export type EmbedsCstChildren = {
  Embeds?: IToken[];
  One?: IToken[];
  Many?: IToken[];
  Identifier?: IToken[];
  Question?: IToken[];
};

export interface AttributeRefCstNode extends CstNode {
  name: 'attributeRef';
  children: AttributeRefCstChildren;
}

export type AttributeRefCstChildren = {
  Identifier?: IToken[];
  As?: IToken[];
};

export interface ICstNodeVisitor<IN, OUT> extends ICstVisitor<IN, OUT> {
  file(children: FileCstChildren, param?: IN): OUT;
  appHeader(children: AppHeaderCstChildren, param?: IN): OUT;
  include(children: IncludeCstChildren, param?: IN): OUT;
  publishDecl(children: PublishDeclCstChildren, param?: IN): OUT;
  ephemeralDecl(children: EphemeralDeclCstChildren, param?: IN): OUT;
  embeddedDecl(children: EmbeddedDeclCstChildren, param?: IN): OUT;
  subscribeDecl(children: SubscribeDeclCstChildren, param?: IN): OUT;
  observeDecl(children: ObserveDeclCstChildren, param?: IN): OUT;
  asClause(children: AsClauseCstChildren, param?: IN): OUT;
  extendsClause(children: ExtendsClauseCstChildren, param?: IN): OUT;
  whenClause(children: WhenClauseCstChildren, param?: IN): OUT;
  toClause(children: ToClauseCstChildren, param?: IN): OUT;
  fromClause(children: FromClauseCstChildren, param?: IN): OUT;
  intoClause(children: IntoClauseCstChildren, param?: IN): OUT;
  foreignKeyClause(children: ForeignKeyClauseCstChildren, param?: IN): OUT;
  coalesceClause(children: CoalesceClauseCstChildren, param?: IN): OUT;
  unmanagedClause(children: UnmanagedClauseCstChildren, param?: IN): OUT;
  fieldBlock(children: FieldBlockCstChildren, param?: IN): OUT;
  attributeBlock(children: AttributeBlockCstChildren, param?: IN): OUT;
  separator(children: SeparatorCstChildren, param?: IN): OUT;
  field(children: FieldCstChildren, param?: IN): OUT;
  typeRef(children: TypeRefCstChildren, param?: IN): OUT;
  typeArg(children: TypeArgCstChildren, param?: IN): OUT;
  modifier(children: ModifierCstChildren, param?: IN): OUT;
  virtual(children: VirtualCstChildren, param?: IN): OUT;
  copy(children: CopyCstChildren, param?: IN): OUT;
  aggregate(children: AggregateCstChildren, param?: IN): OUT;
  path(children: PathCstChildren, param?: IN): OUT;
  column(children: ColumnCstChildren, param?: IN): OUT;
  belongsTo(children: BelongsToCstChildren, param?: IN): OUT;
  embeds(children: EmbedsCstChildren, param?: IN): OUT;
  attributeRef(children: AttributeRefCstChildren, param?: IN): OUT;
}
